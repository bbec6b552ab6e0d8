package web

import (
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/devicebank/devicebank/apperr"
)

// ParseTrustedProxies reads addresses or CIDR ranges ("10.0.0.5",
// "10.0.0.0/8") of reverse proxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, apperr.New(apperr.Invalid, "trusted proxy %q is neither an address nor a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// clientAddress is the address a request came from. Behind trusted proxies
// it is the rightmost address in X-Forwarded-For that is not one of them:
// each proxy appends the address it saw, and whatever stands to the left of
// that the client may have written itself.
func clientAddress(c *fiber.Ctx, proxies []netip.Prefix) string {
	remote, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	remote = remote.Unmap()
	if !trusted(remote, proxies) {
		return remote.String()
	}
	hops := strings.Split(string(c.Request().Header.Peek(fiber.HeaderXForwardedFor)), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !trusted(a, proxies) {
			return a.Unmap().String()
		}
	}
	return remote.String()
}

// signInLimits slow down password guessing: at most perMinute attempts a
// minute from one client address, and as many against one account from
// anywhere. The counts are kept in each server's memory.
func signInLimits(perMinute int, proxies []netip.Prefix) []fiber.Handler {
	reached := func(c *fiber.Ctx) error {
		return apperr.New(apperr.RateLimited, "too many sign-in attempts; wait a minute and try again")
	}
	byAddress := limiter.New(limiter.Config{
		Max: perMinute, Expiration: time.Minute, LimitReached: reached,
		KeyGenerator: func(c *fiber.Ctx) string { return "addr:" + clientAddress(c, proxies) },
	})
	byAccount := limiter.New(limiter.Config{
		Max: perMinute, Expiration: time.Minute, LimitReached: reached,
		KeyGenerator: func(c *fiber.Ctx) string {
			var in struct {
				Email string `json:"email"`
			}
			json.Unmarshal(c.Body(), &in)
			return "account:" + strings.ToLower(strings.TrimSpace(in.Email))
		},
	})
	return []fiber.Handler{byAddress, byAccount}
}
