package notifications

// The email channel uses github.com/wneessen/go-mail rather than net/smtp
// (frozen: no context, no MIME) or a hand-rolled client: go-mail is
// actively maintained, supports mandatory STARTTLS and implicit TLS (port
// 465), takes a context, and writes proper MIME with RFC 2047 header
// encoding, so Spanish and French subjects and bodies arrive intact. Its
// SendError also carries the SMTP reply code, which is what tells a bad
// mailbox (never retry) from a busy server (retry).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// TLS modes of SMTPConfig.TLS.
const (
	SMTPStartTLS = "starttls" // STARTTLS on a plain connection, required (port 587)
	SMTPTLS      = "tls"      // implicit TLS from the first byte (port 465)
	SMTPNoTLS    = "none"     // no encryption: only for a relay on localhost (port 25)
)

// DefaultSMTPTimeout is SMTPConfig.Timeout when it is zero. It is short
// because the outbox sends one message after another under a lease.
const DefaultSMTPTimeout = 15 * time.Second

// SMTPConfig is how the email channel reaches its mail server.
type SMTPConfig struct {
	Host string
	// Port is the server's port; 0 means the standard one for TLS
	// (587 for "starttls", 465 for "tls", 25 for "none").
	Port int
	// Username and Password, when Username is set, are sent with SMTP AUTH
	// (PLAIN, or LOGIN when the server offers only that).
	Username, Password string
	// From is the sender, "noreply@agency.org" or "Agency <noreply@agency.org>".
	From string
	// TLS is "starttls" (the default: STARTTLS is mandatory), "tls"
	// (implicit TLS, usually port 465) or "none" (plain, for a relay on
	// localhost only, since the password and messages would cross the
	// network in clear).
	TLS string
	// TLSConfig is optional, for tests (a self-signed server certificate).
	TLSConfig *tls.Config
	// Timeout bounds connecting and setting up the session, then again
	// the sending; 0 means DefaultSMTPTimeout.
	Timeout time.Duration
}

func (c SMTPConfig) mode() string {
	if m := strings.ToLower(strings.TrimSpace(c.TLS)); m != "" {
		return m
	}
	return SMTPStartTLS
}

func (c SMTPConfig) port() int {
	if c.Port != 0 {
		return c.Port
	}
	switch c.mode() {
	case SMTPTLS:
		return 465
	case SMTPNoTLS:
		return 25
	}
	return 587
}

func (c SMTPConfig) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultSMTPTimeout
	}
	return c.Timeout
}

// Validate reports the first bad setting, named so that whoever deploys
// the service can fix it.
func (c SMTPConfig) Validate() error {
	mode := c.mode()
	switch {
	case strings.TrimSpace(c.Host) == "":
		return errors.New("smtp host is required")
	case strings.ContainsAny(c.Host, " /") || hasPort(c.Host):
		return errors.New("smtp host must be a host name or IP address, without a port (set the port separately)")
	case c.Port < 0 || c.Port > 65535:
		return errors.New("smtp port must be between 1 and 65535")
	case mode != SMTPStartTLS && mode != SMTPTLS && mode != SMTPNoTLS:
		return fmt.Errorf("smtp tls must be %q, %q or %q", SMTPStartTLS, SMTPTLS, SMTPNoTLS)
	case mode == SMTPNoTLS && !isLoopback(c.Host):
		return fmt.Errorf("smtp tls %q is only allowed for a relay on localhost; use %q or %q", SMTPNoTLS, SMTPStartTLS, SMTPTLS)
	case c.Timeout < 0:
		return errors.New("smtp timeout must not be negative")
	case c.Password != "" && c.Username == "":
		return errors.New("smtp username is required when a password is set")
	case c.Username != "" && c.Password == "":
		return errors.New("smtp password is required when a username is set")
	}
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return errors.New("smtp from must be an email address")
	}
	return nil
}

func hasPort(host string) bool {
	_, _, err := net.SplitHostPort(host)
	return err == nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// EmailChannel sends notifications by SMTP. It is safe for concurrent use:
// each Send opens its own connection.
type EmailChannel struct {
	cfg    SMTPConfig
	mode   string
	port   int
	tls    *tls.Config
	domain string // of From, for Message-IDs
}

var _ Channel = (*EmailChannel)(nil)

// NewEmailChannel checks cfg and returns a channel that sends with it.
func NewEmailChannel(cfg SMTPConfig) (*EmailChannel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	from, _ := netmail.ParseAddress(cfg.From)
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = strings.Trim(cfg.Host, "[]")
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	return &EmailChannel{
		cfg:    cfg,
		mode:   cfg.mode(),
		port:   cfg.port(),
		tls:    tc,
		domain: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
	}, nil
}

// Send delivers n as a plain-text UTF-8 email to n.Address, with n's
// attachments. A recipient or
// message the server refuses for good (a 5xx reply to RCPT or DATA) and an
// address that cannot be parsed are Permanent; anything else (no
// connection, TLS or AUTH trouble, a 4xx reply) is returned to be retried.
// A rejected sender or failed AUTH is not Permanent on purpose: it is the
// service's configuration, not this message, and once it is fixed the
// queued notifications should go out.
func (e *EmailChannel) Send(ctx context.Context, n *Notification) error {
	to, err := netmail.ParseAddress(n.Address)
	if err != nil {
		// net/mail's reason may quote the address: it is left out.
		return Permanent(&sendError{text: "email: recipient address is not valid", causes: []error{err}})
	}
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return e.fail("email: smtp from is not valid", err)
	}
	if err := msg.To(to.Address); err != nil {
		return Permanent(&sendError{text: "email: recipient address is not valid", causes: []error{err}})
	}
	subject := n.Subject
	if subject == "" {
		subject = Subject(n.Kind, n.Language)
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(e.messageID(n))
	msg.SetDate()
	msg.SetGenHeader("X-DeviceBank-Notification", strconv.FormatInt(n.ID, 10))
	msg.SetBodyString(mail.TypeTextPlain, n.Body)
	for _, a := range n.Attachments {
		opts := []mail.FileOption{}
		if a.ContentType != "" {
			opts = append(opts, mail.WithFileContentType(mail.ContentType(a.ContentType)))
		}
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), opts...); err != nil {
			return e.fail("email: attachment "+a.Name, err)
		}
	}

	client, stop, err := e.client(ctx)
	if err != nil {
		return e.fail("email: smtp client", err)
	}
	defer stop()
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	masked := []string{n.Address, to.Address}
	if ctx.Err() != nil {
		out := e.fail("email: "+ctx.Err().Error(), err, masked...)
		out.causes = append(out.causes, ctx.Err())
		return out
	}
	out := e.fail("email", err, masked...)
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 {
		switch se.Reason {
		case mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
			return Permanent(out)
		}
	}
	return out
}

// client is a go-mail client for one delivery (so concurrent Sends do not
// queue on one client's lock). stop must be called when it is done with.
func (e *EmailChannel) client(ctx context.Context) (c *mail.Client, stop func(), err error) {
	// go-mail only watches ctx while dialing and sets no deadline until
	// the greeting, STARTTLS and AUTH are over, so dial sets one and closes
	// the connection when ctx ends: otherwise a server that accepts and
	// stays silent would hold the dispatcher, whatever ctx says. stop also
	// closes the connection, which go-mail leaves open when the greeting
	// or STARTTLS fails.
	var conn net.Conn
	stopAfter := func() bool { return false }
	stop = func() {
		stopAfter()
		if conn != nil {
			_ = conn.Close()
		}
	}
	addr := net.JoinHostPort(strings.Trim(e.cfg.Host, "[]"), strconv.Itoa(e.port))
	dial := func(dctx context.Context, network, _ string) (net.Conn, error) {
		d := &net.Dialer{}
		var nc net.Conn
		var err error
		if e.mode == SMTPTLS {
			nc, err = (&tls.Dialer{NetDialer: d, Config: e.tls}).DialContext(dctx, network, addr)
		} else {
			nc, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		conn = nc
		if err := nc.SetDeadline(time.Now().Add(e.cfg.timeout())); err != nil {
			return nil, err
		}
		stopAfter = context.AfterFunc(ctx, func() { _ = nc.Close() })
		return nc, nil
	}

	opts := []mail.Option{
		mail.WithPort(e.port),
		mail.WithTimeout(e.cfg.timeout()),
		mail.WithTLSConfig(e.tls),
		mail.WithDialContextFunc(dial),
	}
	switch e.mode {
	case SMTPStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case SMTPTLS:
		// dial made the connection TLS from the first byte: no STARTTLS.
		opts = append(opts, mail.WithSSL(), mail.WithTLSPolicy(mail.NoTLS))
	case SMTPNoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuthCustom(&plainOrLogin{
			user: e.cfg.Username, pass: e.cfg.Password, host: e.cfg.Host,
			// Validate allows "none" only for a loopback relay.
			allowUnencrypted: e.mode == SMTPNoTLS,
		}))
	}
	c, err = mail.NewClient(e.cfg.Host, opts...)
	return c, stop, err
}

// messageID is the same for every attempt at one notification, so that a
// message sent twice (a dispatcher died after sending, before recording
// it) can be recognised as one by mail systems that de-duplicate.
// CreatedAt keeps IDs from two databases (test and production) apart.
func (e *EmailChannel) messageID(n *Notification) string {
	if n.ID != 0 && !n.CreatedAt.IsZero() {
		return fmt.Sprintf("devicebank.%d.%d@%s", n.ID, n.CreatedAt.UnixMicro(), e.domain)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "devicebank." + hex.EncodeToString(b[:]) + "@" + e.domain
}

// sendError is a delivery failure whose text is safe to store as
// last_error, which coordinators see: it never holds the password, the
// recipient's address (hidden from lists on purpose) or the body. The
// original errors stay reachable with errors.Is and errors.As.
type sendError struct {
	text   string
	causes []error
}

func (s *sendError) Error() string   { return s.text }
func (s *sendError) Unwrap() []error { return s.causes }

// fail builds a sendError: prefix, then cause's text cleaned. go-mail's
// SendError appends the recipients and Message-ID, which are cut; the
// server's reply may echo the address, which is masked.
func (e *EmailChannel) fail(prefix string, cause error, addresses ...string) *sendError {
	text, _, _ := strings.Cut(cause.Error(), ", affected recipient(s): ")
	text, _, _ = strings.Cut(text, ", affected message ID: ")
	text = prefix + ": " + text
	for _, a := range addresses {
		if a = strings.TrimSpace(a); a != "" {
			text = strings.ReplaceAll(text, a, "[recipient]")
		}
	}
	if e.cfg.Password != "" {
		text = strings.ReplaceAll(text, e.cfg.Password, "[redacted]")
	}
	if len(text) > 300 {
		text = strings.ToValidUTF8(text[:300], "") + "…"
	}
	return &sendError{text: text, causes: []error{cause}}
}

// plainOrLogin is SMTP AUTH with PLAIN, or LOGIN when the server offers
// only that (some hosted relays). go-mail's auto-discovery is not used
// because it treats a connection we dialed ourselves as unencrypted;
// PlainAuth and LoginAuth still refuse to send the password without TLS
// unless allowUnencrypted (the localhost relay).
type plainOrLogin struct {
	user, pass, host string
	allowUnencrypted bool
	mech             smtp.Auth
}

func (a *plainOrLogin) Start(server *smtp.ServerInfo) (string, []byte, error) {
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.mech = smtp.PlainAuth("", a.user, a.pass, a.host, a.allowUnencrypted)
	case slices.Contains(server.Auth, "LOGIN"):
		a.mech = smtp.LoginAuth(a.user, a.pass, a.host, a.allowUnencrypted)
	default:
		return "", nil, errors.New("server offers neither AUTH PLAIN nor LOGIN")
	}
	return a.mech.Start(server)
}

func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.mech.Next(fromServer, more)
}
