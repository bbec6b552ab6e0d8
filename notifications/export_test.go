package notifications

import "testing"

// MailServer lets the package's external tests (funder_report_test.go)
// deliver to the SMTP server of email_test.go.
type MailServer = mailServer

// StartMailServer starts a plain SMTP server on 127.0.0.1.
func StartMailServer(t *testing.T) *MailServer { return startMailServer(t, serverOpts{}) }

// Config is an email channel's configuration for the server.
func (ms *mailServer) Config() SMTPConfig {
	return SMTPConfig{Host: ms.host, Port: ms.port, TLS: SMTPNoTLS, From: "Northside <noreply@agency.test>"}
}

// Received returns each message received: its recipients and raw data.
func (ms *mailServer) Received() (to [][]string, data [][]byte) {
	for _, m := range ms.received() {
		to, data = append(to, m.to), append(data, m.data)
	}
	return to, data
}
