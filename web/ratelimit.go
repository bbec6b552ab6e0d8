package web

import (
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

// clientAddress is the client a request came from, as the sign-in limits
// count clients. Behind trusted proxies it is the rightmost address in
// X-Forwarded-For that is not one of them: each proxy appends the address
// it saw, and whatever stands to the left of that the client may have
// written itself. A proxy may append its entry as a header line of its
// own, so every X-Forwarded-For line is read, in order, as one list. An
// IPv6 address stands for its /64 (see client).
func clientAddress(c *fiber.Ctx, proxies []netip.Prefix) string {
	remote, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	remote = remote.Unmap()
	if !trusted(remote, proxies) {
		return client(remote)
	}
	var hops []string
	for _, line := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		hops = append(hops, strings.Split(string(line), ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !trusted(a, proxies) {
			return client(a.Unmap())
		}
	}
	return client(remote)
}

// overTLS reports whether the browser reached the server over TLS: the
// connection itself, or a trusted proxy in front that says so in
// X-Forwarded-Proto (a client's own X-Forwarded-Proto is not believed, as
// Fiber's Ctx.Protocol would). Cookies are then marked Secure.
func overTLS(c *fiber.Ctx, proxies []netip.Prefix) bool {
	if c.Context().IsTLS() {
		return true
	}
	remote, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok || !trusted(remote.Unmap(), proxies) {
		return false
	}
	// The nearest proxy's word: the last value of the last line.
	lines := c.Request().Header.PeekAll(fiber.HeaderXForwardedProto)
	if len(lines) == 0 {
		return false
	}
	protos := strings.Split(string(lines[len(lines)-1]), ",")
	return strings.EqualFold(strings.TrimSpace(protos[len(protos)-1]), "https")
}

// client names the client at address a: an IPv4 address itself, an IPv6
// address its /64. One IPv6 line (a home, an office, a phone) is given a
// whole /64 (RFC 6177) and may pick any address in it, so counting single
// addresses would give a guesser 2^64 fresh ones.
func client(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// signInLimit slows down password spraying: at most perMinute failed
// sign-ins a minute from one client address, whatever the accounts tried
// (successful ones are not counted, so an office behind one address can
// all sign in on a Monday morning). Guessing at one account is slowed per
// account and address by the accounts service. The counts are kept in each
// server's memory.
func (s *Server) signInLimit(perMinute int, proxies []netip.Prefix) []fiber.Handler {
	byAddress := limiter.New(limiter.Config{
		Max: perMinute, Expiration: time.Minute, SkipSuccessfulRequests: true,
		LimitReached: func(c *fiber.Ctx) error {
			err := apperr.New(apperr.RateLimited, "too many failed sign-ins from your address; wait a minute and try again")
			s.metrics.SignInFailed(err)
			return err
		},
		KeyGenerator: func(c *fiber.Ctx) string { return clientAddress(c, proxies) },
	})
	// The limiter reads the status the handler answered, so an error must
	// become its response before the limiter looks.
	respond := func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			return s.handleError(c, err)
		}
		return nil
	}
	return []fiber.Handler{byAddress, respond}
}
