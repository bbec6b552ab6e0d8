package notifications

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailServer is a real SMTP server (go-smtp) on 127.0.0.1 that records
// what it is sent.
type mailServer struct {
	host string
	port int

	// Set before the first connection.
	user, pass string // when set, AUTH PLAIN is required
	rcptErr    error  // the reply to every RCPT TO

	mu     sync.Mutex
	msgs   []gotMail
	logins []login
}

type gotMail struct {
	from string
	to   []string
	data []byte
	tls  bool // the session was under TLS
}

type login struct{ user, pass string }

type serverOpts struct {
	starttls *tls.Config // offer STARTTLS with this config
	implicit *tls.Config // TLS from the first byte
	user     string
	pass     string
	rcptErr  error
}

func startMailServer(t *testing.T, o serverOpts) *mailServer {
	t.Helper()
	ms := &mailServer{user: o.user, pass: o.pass, rcptErr: o.rcptErr}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.implicit != nil {
		l = tls.NewListener(l, o.implicit)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{srv: ms, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.TLSConfig = o.starttls
	// Without TLS the go-smtp server offers AUTH only with this; the TLS
	// tests leave it off so that a password could not go in clear.
	srv.AllowInsecureAuth = o.starttls == nil && o.implicit == nil
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// Close misses a listener that Serve has not registered yet.
		_ = l.Close()
		<-done
	})
	addr := l.Addr().(*net.TCPAddr)
	ms.host, ms.port = "127.0.0.1", addr.Port
	return ms
}

func (ms *mailServer) received() []gotMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]gotMail(nil), ms.msgs...)
}

func (ms *mailServer) loginsSeen() []login {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]login(nil), ms.logins...)
}

type mailSession struct {
	srv    *mailServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *mailSession) AuthMechanisms() []string {
	if s.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.srv.mu.Lock()
		s.srv.logins = append(s.srv.logins, login{user, pass})
		s.srv.mu.Unlock()
		if user != s.srv.user || pass != s.srv.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		return s.srv.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, gotMail{from: s.from, to: s.to, data: data, tls: isTLS})
	s.srv.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a client config that
// trusts it (and nothing else).
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}

func newEmail(t *testing.T, cfg SMTPConfig) *EmailChannel {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Banco de Equipos <noreply@agency.test>"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	ch, err := NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func testNotification() *Notification {
	return &Notification{
		ID: 42, Kind: LoanOverdue, Channel: "email", Language: "es",
		Address:   "ana.garcia@example.test",
		Body:      "Hola Ana, el equipo (portátil, LT-0042) que le prestó Centro Comunitario debía devolverse el 3 de marzo. Tráigalo o llame al 555-0100 y le ayudamos.",
		CreatedAt: time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC),
	}
}

// parseMail reads a received message and returns its decoded subject and
// body.
func parseMail(t *testing.T, data []byte) (*netmail.Message, string, string) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject %q: %v", m.Header.Get("Subject"), err)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return m, subject, strings.TrimRight(string(b), "\r\n")
}

func TestEmailSendPlain(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, TLS: "none"})
	n := testNotification()
	if err := ch.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}

	got := ms.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	g := got[0]
	if g.from != "noreply@agency.test" {
		t.Errorf("MAIL FROM = %q", g.from)
	}
	if len(g.to) != 1 || g.to[0] != n.Address {
		t.Errorf("RCPT TO = %q, want [%s]", g.to, n.Address)
	}
	if g.tls {
		t.Error(`"none" session was TLS`)
	}
	m, subject, body := parseMail(t, g.data)
	if want := Subject(LoanOverdue, "es"); subject != want || !strings.Contains(subject, "está") {
		t.Errorf("Subject = %q, want %q", subject, want)
	}
	for _, r := range m.Header.Get("Subject") {
		if r > 127 {
			t.Errorf("raw Subject %q is not RFC 2047 encoded", m.Header.Get("Subject"))
			break
		}
	}
	from, err := netmail.ParseAddress(m.Header.Get("From"))
	if err != nil || from.Address != "noreply@agency.test" || from.Name != "Banco de Equipos" {
		t.Errorf("From = %q (%v)", m.Header.Get("From"), err)
	}
	if to := m.Header.Get("To"); !strings.Contains(to, n.Address) {
		t.Errorf("To = %q", to)
	}
	if body != n.Body {
		t.Errorf("body = %q\nwant %q", body, n.Body)
	}
	if ct := strings.ToLower(m.Header.Get("Content-Type")); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(ct, "charset=utf-8") {
		t.Errorf("Content-Type = %q", ct)
	}
	if h := m.Header.Get("X-DeviceBank-Notification"); h != "42" {
		t.Errorf("X-DeviceBank-Notification = %q", h)
	}
	if id := m.Header.Get("Message-Id"); !strings.HasPrefix(id, "<devicebank.42.") || !strings.HasSuffix(id, "@agency.test>") {
		t.Errorf("Message-ID = %q", id)
	}
	if m.Header.Get("Date") == "" {
		t.Error("no Date header")
	}

	// A retry of the same notification keeps its Message-ID, so a mail
	// system that de-duplicates sees one message.
	if err := ch.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	got = ms.received()
	m2, _, _ := parseMail(t, got[1].data)
	if m2.Header.Get("Message-Id") != m.Header.Get("Message-Id") {
		t.Errorf("Message-ID changed between attempts: %q, %q", m.Header.Get("Message-Id"), m2.Header.Get("Message-Id"))
	}
}

func TestEmailSendSTARTTLSWithAuth(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	const user, pass = "relay-user", "s3cret-Pässword"
	ms := startMailServer(t, serverOpts{starttls: serverTLS, user: user, pass: pass})

	t.Run("delivers", func(t *testing.T) {
		ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, Username: user, Password: pass, TLSConfig: clientTLS})
		if err := ch.Send(context.Background(), testNotification()); err != nil {
			t.Fatal(err)
		}
		got := ms.received()
		if len(got) != 1 {
			t.Fatalf("server received %d messages, want 1", len(got))
		}
		if !got[0].tls {
			t.Error("session was not TLS")
		}
		if l := ms.loginsSeen(); len(l) != 1 || l[0] != (login{user, pass}) {
			t.Errorf("server saw logins %q", l)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		const wrong = "wrong-Pässword-77"
		ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, Username: user, Password: wrong, TLSConfig: clientTLS})
		before := len(ms.received())
		err := ch.Send(context.Background(), testNotification())
		if err == nil {
			t.Fatal("sent with a wrong password")
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), pass) {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "535") {
			t.Errorf("error %q does not give the server's reply", err)
		}
		if IsPermanent(err) {
			t.Errorf("a failed login is the service's configuration, not the message: %v", err)
		}
		l := ms.loginsSeen()
		if len(l) == 0 || l[len(l)-1] != (login{user, wrong}) {
			t.Errorf("server saw logins %q, want the wrong password last", l)
		}
		if len(ms.received()) != before {
			t.Error("a message was delivered")
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, Username: user, Password: pass})
		before := len(ms.loginsSeen())
		err := ch.Send(context.Background(), testNotification())
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want a retryable certificate error", err)
		}
		if len(ms.loginsSeen()) != before {
			t.Error("the password was sent to a server whose certificate failed")
		}
	})
}

func TestEmailSTARTTLSIsMandatory(t *testing.T) {
	// A server without STARTTLS (or one whose offer an attacker stripped).
	ms := startMailServer(t, serverOpts{})
	ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, Username: "u", Password: "p"})
	err := ch.Send(context.Background(), testNotification())
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a retryable STARTTLS error", err)
	}
	if len(ms.received()) != 0 || len(ms.loginsSeen()) != 0 {
		t.Error("sent in clear")
	}
}

func TestEmailSendImplicitTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	ms := startMailServer(t, serverOpts{implicit: serverTLS, user: "u", pass: "p"})
	ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, TLS: "tls", Username: "u", Password: "p", TLSConfig: clientTLS})
	if err := ch.Send(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	got := ms.received()
	if len(got) != 1 || !got[0].tls {
		t.Fatalf("received %d messages (TLS: %v), want 1 over TLS", len(got), len(got) == 1 && got[0].tls)
	}
}

func TestEmailRecipientRejected(t *testing.T) {
	n := testNotification()
	for _, tc := range []struct {
		name      string
		reply     *smtp.SMTPError
		permanent bool
	}{
		{"550 mailbox unavailable", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + n.Address + ">: mailbox unavailable"}, true},
		{"451 try again later", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := startMailServer(t, serverOpts{rcptErr: tc.reply})
			ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, TLS: "none"})
			err := ch.Send(context.Background(), n)
			if err == nil {
				t.Fatal("no error")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, IsPermanent(err), tc.permanent)
			}
			if code := tc.reply.Error()[:3]; !strings.Contains(err.Error(), code) {
				t.Errorf("error %q does not give the server's code %s", err, code)
			}
			// last_error is shown in lists where addresses are not.
			if strings.Contains(err.Error(), n.Address) || strings.Contains(err.Error(), "portátil") {
				t.Errorf("error shows the address or the body: %v", err)
			}
			if len(ms.received()) != 0 {
				t.Error("a message was delivered")
			}
		})
	}
}

func TestEmailClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ch := newEmail(t, SMTPConfig{Host: "127.0.0.1", Port: port, TLS: "none", Username: "u", Password: "hunter2-secret"})
	err = ch.Send(context.Background(), testNotification())
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if IsPermanent(err) {
		t.Errorf("a connection failure must be retried: %v", err)
	}
	if !strings.Contains(err.Error(), "dial") || strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("error = %q", err)
	}
}

func TestEmailInvalidAddressIsPermanent(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := newEmail(t, SMTPConfig{Host: ms.host, Port: ms.port, TLS: "none"})
	for _, addr := range []string{"", "not an address", "ana@example.test\r\nBcc: x@evil.test"} {
		n := testNotification()
		n.Address = addr
		err := ch.Send(context.Background(), n)
		if !IsPermanent(err) {
			t.Errorf("address %q: err = %v, want permanent", addr, err)
		}
		if err != nil && addr != "" && strings.Contains(err.Error(), addr) {
			t.Errorf("error shows the address: %v", err)
		}
	}
	if len(ms.received()) != 0 {
		t.Error("a message was delivered")
	}
}

func TestEmailSendStopsWhenContextCancelled(t *testing.T) {
	// A server that accepts and never greets; go-mail alone would wait for
	// the greeting for ever.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
			cancel() // the dispatcher is being shut down
		}
	}()
	ch := newEmail(t, SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "none", Timeout: time.Minute})
	start := time.Now()
	err = ch.Send(ctx, testNotification())
	if !errors.Is(err, context.Canceled) || IsPermanent(err) {
		t.Errorf("err = %v, want a retryable context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send took %v after its context was cancelled", d)
	}
	select {
	case c := <-accepted:
		c.Close()
	default:
	}
}

func TestEmailConfigValidate(t *testing.T) {
	ok := SMTPConfig{Host: "smtp.agency.test", From: "noreply@agency.test"}
	for _, tc := range []struct {
		name string
		edit func(*SMTPConfig)
		want string // "" for valid
	}{
		{"defaults", func(*SMTPConfig) {}, ""},
		{"starttls 587 with auth", func(c *SMTPConfig) { c.Port, c.TLS, c.Username, c.Password = 587, "starttls", "u", "p" }, ""},
		{"implicit tls", func(c *SMTPConfig) { c.Port, c.TLS = 465, "TLS" }, ""},
		{"from with a name", func(c *SMTPConfig) { c.From = "Agency <noreply@agency.test>" }, ""},
		{"none on localhost", func(c *SMTPConfig) { c.Host, c.TLS = "localhost", "none" }, ""},
		{"none on 127.0.0.1", func(c *SMTPConfig) { c.Host, c.TLS = "127.0.0.1", "none" }, ""},
		{"no host", func(c *SMTPConfig) { c.Host = " " }, "smtp host is required"},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.agency.test:587" }, "smtp host must be a host name or IP address"},
		{"port negative", func(c *SMTPConfig) { c.Port = -1 }, "smtp port must be between 1 and 65535"},
		{"port too big", func(c *SMTPConfig) { c.Port = 65536 }, "smtp port must be between 1 and 65535"},
		{"unknown tls", func(c *SMTPConfig) { c.TLS = "ssl" }, `smtp tls must be "starttls", "tls" or "none"`},
		{"none on a remote host", func(c *SMTPConfig) { c.TLS = "none" }, `smtp tls "none" is only allowed for a relay on localhost`},
		{"negative timeout", func(c *SMTPConfig) { c.Timeout = -time.Second }, "smtp timeout must not be negative"},
		{"password without username", func(c *SMTPConfig) { c.Password = "p" }, "smtp username is required when a password is set"},
		{"username without password", func(c *SMTPConfig) { c.Username = "u" }, "smtp password is required when a username is set"},
		{"no from", func(c *SMTPConfig) { c.From = "" }, "smtp from must be an email address"},
		{"from not an address", func(c *SMTPConfig) { c.From = "DeviceBank" }, "smtp from must be an email address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
			if _, nerr := NewEmailChannel(cfg); (nerr == nil) != (err == nil) {
				t.Errorf("NewEmailChannel error %v disagrees with Validate %v", nerr, err)
			}
		})
	}
}
