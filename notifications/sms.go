package notifications

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/devicebank/devicebank/phone"
)

// SMSConfig configures the SMS channel for Twilio or a provider that
// speaks Twilio's REST API (its /2010-04-01/Accounts/{sid}/Messages.json
// endpoint, basic auth and JSON errors).
type SMSConfig struct {
	AccountSID string
	AuthToken  string
	// From is the sending phone number in E.164 (+13125550100) or a
	// messaging service SID (MG…), which lets the provider pick the number.
	From string
	// BaseURL defaults to https://api.twilio.com. It may carry a path, for
	// providers that serve the same API under one.
	BaseURL string
	// HTTPClient defaults to a client with a 15 s timeout, so a provider
	// that hangs cannot hold a dispatcher past its claim's lease.
	HTTPClient *http.Client
}

const (
	smsDefaultBaseURL = "https://api.twilio.com"
	smsDefaultTimeout = 15 * time.Second
	// smsMaxResponse caps what is read of the provider's answer: an error
	// is a few hundred bytes, and a misbehaving proxy must not fill memory.
	smsMaxResponse = 64 << 10
	// smsMaxDetail caps the provider's message in an error, which ends up
	// in last_error (500 characters) next to the status and code.
	smsMaxDetail = 200
	// smsCodeOptedOut is Twilio's error for a recipient who replied STOP.
	smsCodeOptedOut = 21610
)

// Validate reports every setting that is missing or malformed, each named.
// It never quotes the auth token.
func (c SMSConfig) Validate() error {
	var errs []error
	switch {
	case strings.TrimSpace(c.AccountSID) == "":
		errs = append(errs, errors.New("sms: account SID is required"))
	case strings.IndexFunc(c.AccountSID, unicode.IsSpace) >= 0:
		// Usually a line break pasted in with it from an env file.
		errs = append(errs, errors.New("sms: account SID contains spaces or line breaks"))
	}
	switch {
	case c.AuthToken == "":
		errs = append(errs, errors.New("sms: auth token is required"))
	case strings.IndexFunc(c.AuthToken, unicode.IsSpace) >= 0:
		// Caught here: the provider would refuse every message, and a 401
		// fails each one at once.
		errs = append(errs, errors.New("sms: auth token contains spaces or line breaks"))
	}
	if !phone.IsE164(c.From) && !smsIsServiceSID(c.From) {
		errs = append(errs, fmt.Errorf("sms: from must be a phone number in E.164 such as +13125550100, or a messaging service SID starting MG (got %q)", c.From))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("sms: base URL must be an absolute http or https URL such as https://api.twilio.com"))
		}
	}
	return errors.Join(errs...)
}

// SMSChannel sends notifications as text messages through a Twilio-style
// REST API. It is safe for concurrent use.
type SMSChannel struct {
	cfg      SMSConfig
	endpoint string
}

// NewSMSChannel checks cfg and fills in its defaults.
func NewSMSChannel(cfg SMSConfig) (*SMSChannel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = smsDefaultBaseURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: smsDefaultTimeout}
	}
	endpoint := strings.TrimRight(cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json"
	return &SMSChannel{cfg: cfg, endpoint: endpoint}, nil
}

// Send posts n.Body to n.Address, which must be in E.164, as client
// numbers are stored: it is not guessed at here, since a number read in
// the wrong country reaches a stranger. An address in another form (a
// number stored before numbers were normalised, that could not be
// converted) is a permanent failure, as is any 4xx from the provider but
// 408 and 429, which, like network failures and 5xx, are retried by the
// outbox. A recipient who replied STOP gives a permanent error for which
// IsOptedOut is true.
func (c *SMSChannel) Send(ctx context.Context, n *Notification) error {
	to := n.Address
	if !phone.IsE164(to) {
		// The address is not quoted: last_error is shown in lists, where
		// addresses are not.
		return Permanent(errors.New("sms: the client's phone number is not in E.164 (such as +13125550100): correct it on the client's record"))
	}
	if strings.TrimSpace(n.Body) == "" {
		return Permanent(errors.New("sms: the message is empty"))
	}
	form := url.Values{"To": {to}, "Body": {n.Body}}
	if smsIsServiceSID(c.cfg.From) {
		form.Set("MessagingServiceSid", c.cfg.From)
	} else {
		form.Set("From", c.cfg.From)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	req.SetBasicAuth(c.cfg.AccountSID, c.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// *url.Error repeats the endpoint; the cause is what helps.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sms: could not reach the provider: %w", err)
	}
	defer resp.Body.Close()
	// Read (a capped amount) even on success so the connection is reused.
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, smsMaxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}

	e := &smsAPIError{Status: resp.StatusCode}
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Code = body.Code
		e.Message = smsScrub(body.Message, smsSecrets{token: c.cfg.AuthToken, body: n.Body, address: n.Address, to: to})
	}
	switch {
	case e.Code == smsCodeOptedOut:
		return Permanent(e) // whatever the status: retrying cannot undo a STOP
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return e
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return Permanent(e)
	default:
		return e
	}
}

// smsAPIError is a non-2xx answer from the provider.
type smsAPIError struct {
	Status  int
	Code    int    // the provider's error code, 0 when it sent none
	Message string // already scrubbed of secrets and shortened
}

func (e *smsAPIError) Error() string {
	var b strings.Builder
	b.WriteString("sms: ")
	if e.Code == smsCodeOptedOut {
		b.WriteString("the recipient has opted out (replied STOP); ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code == 0 && e.Message == "" {
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
		return b.String()
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ", error %d", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// IsOptedOut reports whether err says the recipient replied STOP to the
// provider (Twilio error 21610), so the opt-out can be recorded on the
// client and nothing more is sent by SMS.
func IsOptedOut(err error) bool {
	var e *smsAPIError
	return errors.As(err, &e) && e.Code == smsCodeOptedOut
}

// smsSecrets are what must never reach last_error, where coordinators
// (and lists) see it: the token, the message (which may name a device or a
// date), and the recipient's number, which lists do not show.
type smsSecrets struct{ token, body, address, to string }

// smsScrub makes a provider's message fit for last_error: secrets replaced
// (a provider echoing the number it refused is common), control characters
// and runs of space collapsed, and the whole cut to smsMaxDetail.
func smsScrub(msg string, s smsSecrets) string {
	if s.token != "" {
		msg = strings.ReplaceAll(msg, s.token, "[redacted]")
	}
	type repl struct{ old, new string }
	for _, r := range []repl{{s.body, "[message]"}, {s.address, "[recipient]"}, {s.to, "[recipient]"}, {strings.TrimPrefix(s.to, "+"), "[recipient]"}} {
		// A very short one ("ok") would blank out ordinary words; the
		// templates and phone numbers are all far longer.
		if len(strings.TrimSpace(r.old)) >= 4 {
			msg = strings.ReplaceAll(msg, r.old, r.new)
		}
	}
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if utf8.RuneCountInString(msg) > smsMaxDetail {
		msg = string([]rune(msg)[:smsMaxDetail-1]) + "…"
	}
	return msg
}

// smsIsServiceSID reports whether s looks like a messaging service SID:
// MG and letters or digits (Twilio's are MG and 32 hex digits; the check
// is loose so compatible providers' IDs pass).
func smsIsServiceSID(s string) bool {
	rest, ok := strings.CutPrefix(s, "MG")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// VerifySignature reports whether signature (the X-Twilio-Signature header)
// was made with authToken for a POST to url carrying form. Twilio's scheme:
// HMAC-SHA1 keyed by the auth token over the full URL (as configured at the
// provider, query string included) followed by each POST parameter's name
// and value, parameters sorted by name and a repeated name's values in the
// order sent, then base64.
//
// Like Twilio's own libraries it also accepts the URL with its port
// removed, or with the scheme's default port added when it has none
// (https://host/x and https://host:443/x), because which of them Twilio
// signs is not consistent, as those libraries note; and, for a repeated
// name, its values sorted with duplicates dropped, as those libraries sign
// them. Every candidate is compared in constant time. An empty token or
// signature never verifies.
func VerifySignature(authToken, url string, form url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	sortings := []bool{false}
	if smsRepeats(form) {
		sortings = append(sortings, true)
	}
	ok := false
	for _, u := range smsURLVariants(url) {
		for _, sorted := range sortings {
			want := smsSignature(authToken, u, form, sorted)
			// Not short-circuited, so the time taken does not say which
			// candidate came close.
			if hmac.Equal([]byte(want), []byte(signature)) {
				ok = true
			}
		}
	}
	return ok
}

// smsSignature computes Twilio's signature; sortedValues orders a repeated
// name's values and drops duplicates.
func smsSignature(authToken, u string, form url.Values, sortedValues bool) string {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, u)
	for _, name := range names {
		values := form[name]
		if sortedValues && len(values) > 1 {
			values = append([]string(nil), values...)
			sort.Strings(values)
			values = smsUnique(values)
		}
		for _, v := range values {
			io.WriteString(mac, name)
			io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func smsRepeats(form url.Values) bool {
	for _, vs := range form {
		if len(vs) > 1 {
			return true
		}
	}
	return false
}

func smsUnique(sorted []string) []string {
	out := sorted[:0]
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// smsURLVariants is raw, raw without its port, and raw with the scheme's
// default port when it has none. It edits the string rather than
// re-serialising a parsed URL, which could change its escaping and so the
// signature.
func smsURLVariants(raw string) []string {
	out := []string{raw}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return out
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostport := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hostport = authority[:at+1], authority[at+1:]
	}
	host := hostport
	if colon := strings.LastIndex(hostport, ":"); colon > strings.LastIndex(hostport, "]") {
		host = hostport[:colon]
	}
	prefix := scheme + "://" + userinfo
	if host != hostport {
		out = append(out, prefix+host+tail)
	} else {
		switch strings.ToLower(scheme) {
		case "https":
			out = append(out, prefix+host+":443"+tail)
		case "http":
			out = append(out, prefix+host+":80"+tail)
		}
	}
	return out
}

// Reply is what an inbound text asks for.
type Reply int

const (
	ReplyOther Reply = iota // anything else: not acted on (every message names the agency's phone)
	ReplyStop               // stop sending this client text messages
	ReplyStart              // resume after a stop
)

func (r Reply) String() string {
	switch r {
	case ReplyStop:
		return "stop"
	case ReplyStart:
		return "start"
	default:
		return "other"
	}
}

// smsReplies are the keywords ParseReply knows, upper case. Stop: Twilio's
// default opt-out keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT),
// OPTOUT and REVOKE (whoever writes them wants no more messages), and the
// Spanish PARAR and ALTO and French ARRET and ARRÊT for the languages the
// templates ship in. Start: Twilio's opt-in keywords START, UNSTOP, YES.
var smsReplies = map[string]Reply{
	"STOP": ReplyStop, "STOPALL": ReplyStop, "UNSUBSCRIBE": ReplyStop, "CANCEL": ReplyStop,
	"END": ReplyStop, "QUIT": ReplyStop, "OPTOUT": ReplyStop, "REVOKE": ReplyStop,
	"PARAR": ReplyStop, "ALTO": ReplyStop, "ARRET": ReplyStop, "ARRÊT": ReplyStop,
	"START": ReplyStart, "UNSTOP": ReplyStart, "YES": ReplyStart,
}

// ParseReply reads an inbound text: the whole message, ignoring case and
// surrounding spaces and punctuation, must be one keyword of smsReplies.
// Punctuation is ignored because phones add it ("Stop."), and a client
// who clearly asked to stop must not get another reminder. A keyword
// inside a longer message ("please don't stop") is ReplyOther, like
// Twilio, so a sentence is read by a person instead.
func ParseReply(body string) Reply {
	word := strings.TrimFunc(body, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	return smsReplies[strings.ToUpper(word)] // ReplyOther is the zero value
}
