package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/web"
)

// notifyConfig is how reminders are sent: the agency's phone, the policy
// default, and the SMTP and SMS providers. With neither provider set,
// reminders go to the log.
type notifyConfig struct {
	AgencyPhone string
	PolicyFile  string

	SMTPHost, SMTPPort, SMTPUser, SMTPPassword, SMTPFrom, SMTPTLS string

	SMSAccountSID, SMSAuthToken, SMSFrom, SMSBaseURL, SMSWebhookURL string
}

func (c *notifyConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.AgencyPhone, "agency-phone", env("DEVICEBANK_AGENCY_PHONE", ""),
		"the phone number reminders tell clients to call, printed on loan agreements (env DEVICEBANK_AGENCY_PHONE)")
	fs.StringVar(&c.PolicyFile, "reminder-policy", env("DEVICEBANK_REMINDER_POLICY", ""),
		"a JSON file with the reminder policy to use until an admin sets one; empty: the built-in default (env DEVICEBANK_REMINDER_POLICY)")
	fs.StringVar(&c.SMTPHost, "smtp-host", env("DEVICEBANK_SMTP_HOST", ""), "SMTP server for email reminders; empty: email goes to the log (env DEVICEBANK_SMTP_HOST)")
	fs.StringVar(&c.SMTPPort, "smtp-port", env("DEVICEBANK_SMTP_PORT", ""), "SMTP port; empty: 587 for starttls, 465 for tls, 25 for none (env DEVICEBANK_SMTP_PORT)")
	fs.StringVar(&c.SMTPUser, "smtp-username", env("DEVICEBANK_SMTP_USERNAME", ""), "SMTP user (env DEVICEBANK_SMTP_USERNAME)")
	secretVar(fs, &c.SMTPPassword, "smtp-password", "DEVICEBANK_SMTP_PASSWORD", "", "SMTP password (env DEVICEBANK_SMTP_PASSWORD, or DEVICEBANK_SMTP_PASSWORD_FILE)")
	fs.StringVar(&c.SMTPFrom, "smtp-from", env("DEVICEBANK_SMTP_FROM", ""), "sender address of email reminders (env DEVICEBANK_SMTP_FROM)")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", env("DEVICEBANK_SMTP_TLS", "starttls"), "starttls, tls or none (env DEVICEBANK_SMTP_TLS)")
	fs.StringVar(&c.SMSAccountSID, "sms-account-sid", env("DEVICEBANK_SMS_ACCOUNT_SID", ""), "account SID of the Twilio-compatible SMS API; empty: SMS goes to the log (env DEVICEBANK_SMS_ACCOUNT_SID)")
	secretVar(fs, &c.SMSAuthToken, "sms-auth-token", "DEVICEBANK_SMS_AUTH_TOKEN", "", "its auth token (env DEVICEBANK_SMS_AUTH_TOKEN, or DEVICEBANK_SMS_AUTH_TOKEN_FILE)")
	fs.StringVar(&c.SMSFrom, "sms-from", env("DEVICEBANK_SMS_FROM", ""), "sending number (E.164) or messaging service SID (env DEVICEBANK_SMS_FROM)")
	fs.StringVar(&c.SMSBaseURL, "sms-base-url", env("DEVICEBANK_SMS_BASE_URL", ""), "base URL of the SMS API; empty: https://api.twilio.com (env DEVICEBANK_SMS_BASE_URL)")
	fs.StringVar(&c.SMSWebhookURL, "sms-webhook-url", env("DEVICEBANK_SMS_WEBHOOK_URL", ""),
		"the public URL the provider calls with replies (…/api/v1/sms/inbound), which its signature covers (env DEVICEBANK_SMS_WEBHOOK_URL)")
}

// channels builds the configured delivery channels; one not configured is
// left out, and app.New puts the log in its place.
func (c *notifyConfig) channels() (map[string]notifications.Channel, error) {
	out := map[string]notifications.Channel{}
	if c.SMTPHost != "" {
		port := 0
		if c.SMTPPort != "" {
			p, err := strconv.Atoi(c.SMTPPort)
			if err != nil {
				return nil, fmt.Errorf("--smtp-port must be a number")
			}
			port = p
		}
		ch, err := notifications.NewEmailChannel(notifications.SMTPConfig{Host: c.SMTPHost, Port: port, Username: c.SMTPUser,
			Password: c.SMTPPassword, From: c.SMTPFrom, TLS: c.SMTPTLS})
		if err != nil {
			return nil, err
		}
		out["email"] = ch
	}
	if c.SMSAccountSID != "" {
		ch, err := notifications.NewSMSChannel(notifications.SMSConfig{AccountSID: c.SMSAccountSID, AuthToken: c.SMSAuthToken,
			From: c.SMSFrom, BaseURL: c.SMSBaseURL})
		if err != nil {
			return nil, err
		}
		out["sms"] = ch
	}
	return out, nil
}

// webhook is the SMS webhook's check, when SMS is configured.
func (c *notifyConfig) webhook() (*web.SMSWebhook, error) {
	if c.SMSAccountSID == "" {
		return nil, nil
	}
	if c.SMSWebhookURL == "" {
		return nil, fmt.Errorf("--sms-webhook-url is required with SMS: the provider's signature covers the URL it calls")
	}
	return &web.SMSWebhook{AuthToken: c.SMSAuthToken, URL: c.SMSWebhookURL}, nil
}

// setup makes the logger and the services' options from cfg and c.
func (c *notifyConfig) setup(cfg *config, stderr io.Writer) (app.Options, *slog.Logger, error) {
	log, err := cfg.logger(stderr)
	if err != nil {
		return app.Options{}, nil, err
	}
	opts, err := c.options(cfg)
	opts.Logger = log
	if err == nil && cfg.Timezone == "" {
		// Left unset, UTC moves every reminder and overdue day: a session
		// at 17:30 in Chicago would be announced for 23:30.
		log.Warn("no time zone is set, so UTC is used for due dates, reminder times and quiet hours; " +
			"set --timezone (DEVICEBANK_TIMEZONE) to the agency's, such as America/Chicago")
	}
	return opts, log, err
}

// options are the services' options: the agency, its time zone, and how
// reminders are sent.
func (c *notifyConfig) options(cfg *config) (app.Options, error) {
	loc, err := cfg.location()
	if err != nil {
		return app.Options{}, err
	}
	channels, err := c.channels()
	if err != nil {
		return app.Options{}, err
	}
	if len(channels) > 0 && strings.TrimSpace(c.AgencyPhone) == "" {
		return app.Options{}, fmt.Errorf("--agency-phone is required when SMS or email is configured: every reminder tells the client whom to call")
	}
	region, err := cfg.region()
	if err != nil {
		return app.Options{}, err
	}
	opts := app.Options{Location: loc, AgencyPhone: c.AgencyPhone, Channels: channels, DefaultCountry: region}
	if err := cfg.agency(&opts); err != nil {
		return app.Options{}, err
	}
	if c.PolicyFile != "" {
		b, err := os.ReadFile(c.PolicyFile)
		if err != nil {
			return app.Options{}, fmt.Errorf("--reminder-policy: %w", err)
		}
		p, err := notifications.ParsePolicy(b)
		if err != nil {
			return app.Options{}, fmt.Errorf("--reminder-policy %s: %w", c.PolicyFile, err)
		}
		opts.ReminderPolicy = &p
	}
	return opts, nil
}

// notifyCommand runs one pass of a reminder job and prints a one-line
// summary (created, sent, failed), for an external scheduler.
func notifyCommand(what string) func(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
	summaries := map[string]string{
		"sweep":    "Create the reminders that are due now, once, and exit.",
		"dispatch": "Send the pending reminders that are due, once, and exit.",
		"digest":   "Create today's coordinator digest (once a day, however often it runs) and exit.",
		"reports": "Queue last month's utilization report (a PDF by email) for each active funder, once per funder\n" +
			"and month however often it runs, and exit; notify dispatch (or serve) sends them.",
	}
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		var cfg config
		var nc notifyConfig
		fs := newFlagSet("notify "+what, summaries[what], stderr)
		cfg.register(fs)
		nc.register(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		opts, _, err := nc.setup(&cfg, stderr)
		if err != nil {
			return err
		}
		return withServices(ctx, &cfg, opts, func(all *app.Services) error {
			svc := all.Notifications
			var created int
			var sent notifications.DispatchResult
			note := ""
			switch what {
			case "sweep":
				res, err := svc.Sweep(ctx)
				if err != nil {
					return err
				}
				created = res.Created
				if res.Skipped {
					note = "; skipped: another instance is sweeping"
				}
			case "digest", "reports":
				job := svc.Digest
				if what == "reports" {
					job = svc.FunderReports
				}
				res, err := job(ctx)
				if err != nil {
					return err
				}
				created = res.Created
			case "dispatch":
				if sent, err = svc.DispatchDue(ctx); err != nil {
					return err
				}
			}
			fmt.Fprintf(stdout, "%s: %d created, %d sent, %d failed (%d to retry, %d cancelled, %d deferred)%s\n",
				what, created, sent.Sent, sent.Failed, sent.Retrying, sent.Cancelled, sent.Deferred, note)
			return nil
		})
	}
}
