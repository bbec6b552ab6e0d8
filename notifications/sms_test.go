package notifications

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	smsTestSID   = "AC0123456789abcdef0123456789abcdef"
	smsTestToken = "tok_5e3c2f9a8b7d6e1f0a9b8c7d6e5f4a3b"
	smsTestFrom  = "+13125550100"
	smsTestBody  = "Hi Ana, the laptop you borrowed (LT-0042) is due back on May 3. Questions? Call 312-555-0199."
)

// smsRequest is what the fake provider saw.
type smsRequest struct {
	method, path, contentType string
	user, pass                string
	basicOK                   bool
	form                      url.Values
}

// smsFake is a provider that records requests and answers with status and
// body.
type smsFake struct {
	mu     sync.Mutex
	seen   []smsRequest
	status int
	body   string
}

func (f *smsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	_ = r.ParseForm()
	f.mu.Lock()
	f.seen = append(f.seen, smsRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), user, pass, ok, r.PostForm})
	status, body := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *smsFake) requests() []smsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]smsRequest(nil), f.seen...)
}

func smsTestChannel(t *testing.T, baseURL, from string) *SMSChannel {
	t.Helper()
	ch, err := NewSMSChannel(SMSConfig{AccountSID: smsTestSID, AuthToken: smsTestToken, From: from, BaseURL: baseURL})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func smsTestNote(address string) *Notification {
	return &Notification{ID: 7, Kind: LoanDueSoon, Channel: "sms", Address: address, Language: "en", Body: smsTestBody}
}

func TestSMSSendPostsTheMessage(t *testing.T) {
	fake := &smsFake{status: http.StatusCreated, body: `{"sid": "SM123", "status": "queued"}`}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	// A trailing slash on the base URL is not doubled.
	if err := smsTestChannel(t, srv.URL+"/", smsTestFrom).Send(context.Background(), smsTestNote("+13125550142")); err != nil {
		t.Fatalf("send: %v", err)
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost {
		t.Errorf("method %s, want POST", r.method)
	}
	if want := "/2010-04-01/Accounts/" + smsTestSID + "/Messages.json"; r.path != want {
		t.Errorf("path %s, want %s", r.path, want)
	}
	if r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", r.contentType)
	}
	if !r.basicOK || r.user != smsTestSID || r.pass != smsTestToken {
		t.Errorf("basic auth %v %q %q, want the account SID and auth token", r.basicOK, r.user, r.pass)
	}
	want := url.Values{"To": {"+13125550142"}, "From": {smsTestFrom}, "Body": {smsTestBody}}
	if fmt.Sprint(r.form) != fmt.Sprint(want) {
		t.Errorf("form %v, want %v", r.form, want)
	}
}

func TestSMSSendWithAMessagingService(t *testing.T) {
	fake := &smsFake{status: http.StatusCreated, body: `{}`}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	const service = "MG0123456789abcdef0123456789abcdef"
	if err := smsTestChannel(t, srv.URL, service).Send(context.Background(), smsTestNote("+13125550142")); err != nil {
		t.Fatalf("send: %v", err)
	}
	form := fake.requests()[0].form
	if form.Get("MessagingServiceSid") != service || form.Has("From") {
		t.Errorf("form %v: want MessagingServiceSid and no From", form)
	}
	if form.Get("To") != "+13125550142" {
		t.Errorf("To %q, want +13125550142", form.Get("To"))
	}
}

func TestSMSSendProviderErrors(t *testing.T) {
	cases := []struct {
		name              string
		status            int
		body              string
		permanent, optOut bool
		wantIn, wantNotIn []string
	}{
		{name: "invalid number", status: 400,
			body:      `{"code": 21211, "message": "The 'To' number +13125550142 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			permanent: true, wantIn: []string{"400", "21211", "is not a valid phone number", "[recipient]"}, wantNotIn: []string{"3125550142"}},
		{name: "opted out", status: 400,
			body:      `{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}`,
			permanent: true, optOut: true, wantIn: []string{"400", "21610", "opted out", "unsubscribed recipient"}},
		{name: "opted out, whatever the status", status: 503,
			body:      `{"code": 21610, "message": "Attempt to send to unsubscribed recipient"}`,
			permanent: true, optOut: true, wantIn: []string{"503", "21610"}},
		{name: "bad credentials", status: 401,
			body:      `{"code": 20003, "message": "Authenticate", "status": 401}`,
			permanent: true, wantIn: []string{"401", "20003", "Authenticate"}},
		{name: "unavailable", status: 503, body: `<html>upstream down</html>`,
			wantIn: []string{"HTTP 503 Service Unavailable"}, wantNotIn: []string{"html"}},
		{name: "server error with a code", status: 500,
			body:   `{"code": 20500, "message": "Internal Server Error", "status": 500}`,
			wantIn: []string{"500", "20500"}},
		{name: "rate limited", status: 429,
			body:   `{"code": 20429, "message": "Too Many Requests", "status": 429}`,
			wantIn: []string{"429", "20429", "Too Many Requests"}},
		{name: "request timeout", status: 408, body: ``, wantIn: []string{"408"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(&smsFake{status: c.status, body: c.body})
			defer srv.Close()
			err := smsTestChannel(t, srv.URL, smsTestFrom).Send(context.Background(), smsTestNote("+13125550142"))
			if err == nil {
				t.Fatal("no error")
			}
			if IsPermanent(err) != c.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", IsPermanent(err), c.permanent, err)
			}
			if IsOptedOut(err) != c.optOut {
				t.Errorf("IsOptedOut = %v, want %v (%v)", IsOptedOut(err), c.optOut, err)
			}
			for _, s := range c.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			for _, s := range append(c.wantNotIn, smsTestToken, smsTestBody) {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

func TestSMSErrorsNeverShowTheTokenOrMessage(t *testing.T) {
	// A provider (or a proxy in front of it) that echoes what it was sent.
	echo := fmt.Sprintf(`{"code": 21601, "message": "Bad request from %s:%s to +13125550142 with body %s\n\t%s", "status": 400}`,
		smsTestSID, smsTestToken, smsTestBody, strings.Repeat("x", 5000))
	srv := httptest.NewServer(&smsFake{status: 400, body: echo})
	defer srv.Close()
	err := smsTestChannel(t, srv.URL, smsTestFrom).Send(context.Background(), smsTestNote("+13125550142"))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, secret := range []string{smsTestToken, smsTestBody, "3125550142", "\n", "\t"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q contains %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "[redacted]") || !strings.Contains(msg, "[message]") {
		t.Errorf("error %q: want the token and message replaced", msg)
	}
	if len(msg) > 500 {
		t.Errorf("error is %d bytes: longer than last_error keeps", len(msg))
	}
}

func TestSMSSendToAClosedServerIsRetryable(t *testing.T) {
	srv := httptest.NewServer(&smsFake{status: http.StatusCreated})
	base := srv.URL
	srv.Close()
	err := smsTestChannel(t, base, smsTestFrom).Send(context.Background(), smsTestNote("+13125550142"))
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if IsPermanent(err) || IsOptedOut(err) {
		t.Errorf("closed server: %v should be retried", err)
	}
	if strings.Contains(err.Error(), smsTestToken) {
		t.Errorf("error %q contains the token", err)
	}
}

func TestSMSSendStopsWhenTheContextEnds(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := smsTestChannel(t, srv.URL, smsTestFrom).Send(ctx, smsTestNote("+13125550142"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if IsPermanent(err) {
		t.Errorf("%v should be retried", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after the context ended", d)
	}
}

func TestSMSSendRefusesBadAddressesWithoutCallingTheProvider(t *testing.T) {
	fake := &smsFake{status: http.StatusCreated}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ch := smsTestChannel(t, srv.URL, smsTestFrom)
	// Only E.164 is sent: a number in any other form is not guessed at,
	// since read in the wrong country it reaches a stranger.
	for _, addr := range []string{"", "ana@example.org", "555-0142", "0412 345 678", "(312) 555-0142", "3125550142",
		"+1 312 555 0142", "+0312555014", "+1312555010012345"} {
		err := ch.Send(context.Background(), smsTestNote(addr))
		if !IsPermanent(err) {
			t.Errorf("%q: error %v, want a permanent one", addr, err)
		}
		if addr != "" && strings.Contains(fmt.Sprint(err), addr) {
			t.Errorf("error %q quotes the address", err)
		}
	}
	n := smsTestNote("+13125550142")
	n.Body = "  "
	if err := ch.Send(context.Background(), n); !IsPermanent(err) {
		t.Errorf("empty body: error %v, want a permanent one", err)
	}
	if len(fake.requests()) != 0 {
		t.Errorf("%d requests sent for bad notifications", len(fake.requests()))
	}
}

func TestSMSConfigValidate(t *testing.T) {
	good := SMSConfig{AccountSID: smsTestSID, AuthToken: smsTestToken, From: smsTestFrom}
	cases := []struct {
		name   string
		edit   func(*SMSConfig)
		wantIn string // "" for valid
	}{
		{"valid", func(*SMSConfig) {}, ""},
		{"messaging service", func(c *SMSConfig) { c.From = "MG0123456789abcdef0123456789abcdef" }, ""},
		{"http base URL", func(c *SMSConfig) { c.BaseURL = "http://localhost:8080" }, ""},
		{"base URL with a path", func(c *SMSConfig) { c.BaseURL = "https://example.signalwire.com/api/laml" }, ""},
		{"no account SID", func(c *SMSConfig) { c.AccountSID = " " }, "account SID is required"},
		{"account SID with a line break", func(c *SMSConfig) { c.AccountSID += "\n" }, "account SID contains spaces"},
		{"no auth token", func(c *SMSConfig) { c.AuthToken = "" }, "auth token is required"},
		{"auth token with a line break", func(c *SMSConfig) { c.AuthToken += "\n" }, "auth token contains spaces"},
		{"no from", func(c *SMSConfig) { c.From = "" }, "from must be a phone number in E.164"},
		{"from not E.164", func(c *SMSConfig) { c.From = "312-555-0100" }, "from must be a phone number in E.164"},
		{"from a bare MG", func(c *SMSConfig) { c.From = "MG" }, "from must be"},
		{"from a name", func(c *SMSConfig) { c.From = "DeviceBank" }, "from must be"},
		{"relative base URL", func(c *SMSConfig) { c.BaseURL = "api.twilio.com" }, "base URL must be an absolute http or https URL"},
		{"ftp base URL", func(c *SMSConfig) { c.BaseURL = "ftp://api.twilio.com" }, "base URL must be"},
		{"base URL with no host", func(c *SMSConfig) { c.BaseURL = "https://" }, "base URL must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			err := cfg.Validate()
			if c.wantIn == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := NewSMSChannel(cfg); err != nil {
					t.Fatalf("NewSMSChannel: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantIn) {
				t.Fatalf("Validate = %v, want an error containing %q", err, c.wantIn)
			}
			if strings.Contains(err.Error(), smsTestToken) {
				t.Errorf("error %q contains the token", err)
			}
			if _, err := NewSMSChannel(cfg); err == nil {
				t.Error("NewSMSChannel accepted it")
			}
		})
	}
	// Every problem is reported at once.
	err := SMSConfig{}.Validate()
	for _, s := range []string{"account SID", "auth token", "from"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("empty config: %v, want it to name %s", err, s)
		}
	}
}

func TestNewSMSChannelDefaults(t *testing.T) {
	ch, err := NewSMSChannel(SMSConfig{AccountSID: smsTestSID, AuthToken: smsTestToken, From: smsTestFrom})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.twilio.com/2010-04-01/Accounts/" + smsTestSID + "/Messages.json"; ch.endpoint != want {
		t.Errorf("endpoint %s, want %s", ch.endpoint, want)
	}
	if ch.cfg.HTTPClient == nil || ch.cfg.HTTPClient.Timeout != 15*time.Second {
		t.Errorf("HTTP client %+v, want a 15 s timeout", ch.cfg.HTTPClient)
	}
}

// smsTestSign is Twilio's documented algorithm written out step by step,
// apart from the code under test: the URL, then for each parameter in
// name order its name and value, HMAC-SHA1 with the auth token, base64.
func smsTestSign(token, u string, pairs ...[2]string) string {
	data := u
	for _, p := range pairs { // the caller passes them sorted
		data += p[0] + p[1]
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	const token = "b3b1c6a4b5e04a3e9c1f5d2e8a7b6c5d"
	const hook = "https://devicebank.example.org/hooks/sms?agency=3"
	form := url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"From":       {"+13125550142"},
		"To":         {"+13125550100"},
		"Body":       {"Stop"},
		"AccountSid": {smsTestSID},
	}
	sig := smsTestSign(token, hook,
		[2]string{"AccountSid", smsTestSID}, [2]string{"Body", "Stop"}, [2]string{"From", "+13125550142"},
		[2]string{"MessageSid", "SM0123456789abcdef0123456789abcdef"}, [2]string{"To", "+13125550100"})

	if !VerifySignature(token, hook, form, sig) {
		t.Fatal("a correct signature did not verify")
	}
	altered := url.Values{}
	for k, v := range form {
		altered[k] = append([]string(nil), v...)
	}
	altered.Set("Body", "Start")
	added := url.Values{"Extra": {"1"}}
	for k, v := range form {
		added[k] = v
	}
	cases := []struct {
		name, token, url string
		form             url.Values
		sig              string
	}{
		{"altered parameter", token, hook, altered, sig},
		{"added parameter", token, hook, added, sig},
		{"no parameters", token, hook, url.Values{}, sig},
		{"altered url", token, "https://devicebank.example.org/hooks/sms?agency=4", form, sig},
		{"http instead of https", token, "http://devicebank.example.org/hooks/sms?agency=3", form, sig},
		{"other token", "a" + token[1:], hook, form, sig},
		{"empty signature", token, hook, form, ""},
		{"signature in other case", token, hook, form, strings.ToLower(sig)},
		{"truncated signature", token, hook, form, sig[:len(sig)-1]},
	}
	for _, c := range cases {
		if VerifySignature(c.token, c.url, c.form, c.sig) {
			t.Errorf("%s: verified", c.name)
		}
	}
	// An empty token is refused even with a signature made with it: a
	// missing setting must not make every request look genuine.
	if VerifySignature("", hook, url.Values{}, smsTestSign("", hook)) {
		t.Error("an empty token verified")
	}
}

func TestVerifySignatureTwiliosExample(t *testing.T) {
	// The worked example of Twilio's webhook security docs and its helper
	// libraries' tests: auth token 12345, this URL, these parameters. The
	// two signatures published for it belong to two versions of the
	// example's phone number (Caller and From): RSOYDt4T1cUTdK1PDd93/VVr8B8=
	// to +14158675309 (as in the tests of Twilio's PHP and C# libraries)
	// and GvWf1cFY/Q7PnoempGyD5oXAezc= to +14158675310 (as the security
	// docs are widely quoted). Both are kept, each with its own number.
	// With +12349013030, sometimes quoted beside these signatures, neither
	// matches (the algorithm gives 0/KCTR6DLpKmkAf8muzZqo1nDgQ=).
	const token, hook = "12345", "https://mycompany.com/myapp.php?foo=1&bar=2"
	const older, newer = "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "GvWf1cFY/Q7PnoempGyD5oXAezc="
	example := func(number string) url.Values {
		return url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {number}, "Digits": {"1234"}, "From": {number}, "To": {"+18005551212"}}
	}
	cases := []struct {
		number, sig string
		want        bool
	}{
		{"+14158675309", older, true},
		{"+14158675310", newer, true},
		{"+14158675309", newer, false},
		{"+14158675310", older, false},
		{"+12349013030", older, false},
		{"+12349013030", newer, false},
	}
	for _, c := range cases {
		if got := VerifySignature(token, hook, example(c.number), c.sig); got != c.want {
			t.Errorf("number %s, signature %s: verified %v, want %v", c.number, c.sig, got, c.want)
		}
	}
}

func TestVerifySignaturePortsAndRepeatedNames(t *testing.T) {
	const token = "b3b1c6a4b5e04a3e9c1f5d2e8a7b6c5d"
	form := url.Values{"Body": {"STOP"}}
	// Signed without the port, received with it, and the other way round.
	sig := smsTestSign(token, "https://example.org/hooks/sms", [2]string{"Body", "STOP"})
	if !VerifySignature(token, "https://example.org:443/hooks/sms", form, sig) {
		t.Error("https://host:443 did not match a signature made for https://host")
	}
	sig = smsTestSign(token, "https://example.org:443/hooks/sms", [2]string{"Body", "STOP"})
	if !VerifySignature(token, "https://example.org/hooks/sms", form, sig) {
		t.Error("https://host did not match a signature made for https://host:443")
	}
	sig = smsTestSign(token, "https://example.org/hooks/sms", [2]string{"Body", "STOP"})
	if VerifySignature(token, "https://example.org.evil.test/hooks/sms", form, sig) {
		t.Error("another host verified")
	}

	// A repeated name: its values in the order sent, and sorted without
	// duplicates as Twilio's libraries sign them; any other order fails.
	rep := url.Values{"A": {"1"}, "Media": {"b", "a", "b"}}
	inOrder := smsTestSign(token, "https://example.org/h", [2]string{"A", "1"}, [2]string{"Media", "b"}, [2]string{"Media", "a"}, [2]string{"Media", "b"})
	sorted := smsTestSign(token, "https://example.org/h", [2]string{"A", "1"}, [2]string{"Media", "a"}, [2]string{"Media", "b"})
	other := smsTestSign(token, "https://example.org/h", [2]string{"A", "1"}, [2]string{"Media", "b"}, [2]string{"Media", "b"}, [2]string{"Media", "a"})
	if !VerifySignature(token, "https://example.org/h", rep, inOrder) {
		t.Error("values in order did not verify")
	}
	if !VerifySignature(token, "https://example.org/h", rep, sorted) {
		t.Error("values sorted and unique did not verify")
	}
	if VerifySignature(token, "https://example.org/h", rep, other) {
		t.Error("values in another order verified")
	}
}

func TestSMSURLVariants(t *testing.T) {
	cases := map[string][]string{
		"https://a.example/x?y=1":      {"https://a.example/x?y=1", "https://a.example:443/x?y=1"},
		"https://a.example:443/x":      {"https://a.example:443/x", "https://a.example/x"},
		"http://a.example":             {"http://a.example", "http://a.example:80"},
		"https://u:p@a.example:8443/x": {"https://u:p@a.example:8443/x", "https://u:p@a.example/x"},
		"https://[::1]/x":              {"https://[::1]/x", "https://[::1]:443/x"},
		"https://[::1]:8443/x":         {"https://[::1]:8443/x", "https://[::1]/x"},
		"not a url":                    {"not a url"},
	}
	for in, want := range cases {
		if got := smsURLVariants(in); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("smsURLVariants(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseReply(t *testing.T) {
	cases := map[string]Reply{
		"STOP": ReplyStop, "stop": ReplyStop, " Stop\n": ReplyStop, "Stop.": ReplyStop, "STOP!": ReplyStop,
		"stopall": ReplyStop, "Unsubscribe": ReplyStop, "cancel": ReplyStop, "END": ReplyStop, "quit": ReplyStop,
		"optout": ReplyStop, "Revoke": ReplyStop,
		"parar": ReplyStop, "Alto": ReplyStop, "¡Alto!": ReplyStop, "arret": ReplyStop, "Arrêt": ReplyStop, "ARRÊT": ReplyStop,
		"START": ReplyStart, "start": ReplyStart, "Unstop": ReplyStart, "yes": ReplyStart, "Yes.": ReplyStart,
		"": ReplyOther, "   ": ReplyOther, "hello": ReplyOther, "please stop": ReplyOther, "don't stop": ReplyOther,
		"STOP STOP": ReplyOther, "stopp": ReplyOther, "yes please": ReplyOther, "I will bring it back at the end": ReplyOther,
		"no": ReplyOther, "HELP": ReplyOther,
	}
	for in, want := range cases {
		if got := ParseReply(in); got != want {
			t.Errorf("ParseReply(%q) = %v, want %v", in, got, want)
		}
	}
}
