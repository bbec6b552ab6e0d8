package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/phone"
	"github.com/devicebank/devicebank/storage"
)

// config is what every subcommand shares. Each setting comes from a flag,
// else its environment variable, else the default; secrets may also be read
// from a file named by NAME_FILE.
type config struct {
	DatabaseURL string
	AgencyName  string
	// The agency's details and logo printed on loan agreements, and the
	// currency of replacement costs.
	AgencyAddress, AgencyEmail, AgencyLogo, Currency string
	Timezone                                         string
	// DefaultCountry is where a client phone number without a country
	// code is read.
	DefaultCountry string
	LogLevel       string
	LogFormat      string
	// Pool sizes the connections to the database; empty settings take the
	// engine's defaults (storage.DefaultPool).
	Pool storage.PoolSettings
	// DataKey is the key-encryption key (DEVICEBANK_DATA_KEY: no flag, so
	// it is never on a command line), else DataKeyFile holds it.
	DataKey, DataKeyFile string
}

// envErr is the first NAME_FILE that could not be read; parse reports it,
// so that a missing secret stops the command instead of falling back to a
// default (a service on an empty SQLite file instead of the real database).
var envErr error

// env returns the value of name, or of the file named by name_FILE, or def.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	if path := os.Getenv(name + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			if envErr == nil {
				envErr = fmt.Errorf("%s_FILE names %s, which cannot be read: %w", name, path, err)
			}
			return def
		}
		return strings.TrimSpace(string(b))
	}
	return def
}

func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: devicebank %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// secretVar registers a string flag that may hold a secret (a password, a
// token, a database URL with its password). Its value from the environment
// or a NAME_FILE is used but never shown: usage, which --help and any flag
// mistake print, says "(set)" instead. The built-in default is shown.
func secretVar(fs *flag.FlagSet, p *string, name, envName, def, usage string) {
	v := env(envName, def)
	fs.StringVar(p, name, v, usage)
	if v != def {
		fs.Lookup(name).DefValue = "(set)"
	}
}

func (c *config) register(fs *flag.FlagSet) {
	secretVar(fs, &c.DatabaseURL, "database-url", "DATABASE_URL", storage.DefaultURL,
		"database: postgres://… for PostgreSQL, sqlite:PATH or file:PATH for SQLite (env DATABASE_URL, or DATABASE_URL_FILE)")
	fs.StringVar(&c.AgencyName, "agency-name", env("DEVICEBANK_AGENCY_NAME", "DeviceBank"),
		"the agency's name, printed on certificates, labels and loan agreements (env DEVICEBANK_AGENCY_NAME)")
	fs.StringVar(&c.AgencyAddress, "agency-address", env("DEVICEBANK_AGENCY_ADDRESS", ""),
		"the agency's postal address, printed on loan agreements (env DEVICEBANK_AGENCY_ADDRESS)")
	fs.StringVar(&c.AgencyEmail, "agency-email", env("DEVICEBANK_AGENCY_EMAIL", ""),
		"the email address clients may write to, printed on loan agreements (env DEVICEBANK_AGENCY_EMAIL)")
	fs.StringVar(&c.AgencyLogo, "agency-logo", env("DEVICEBANK_AGENCY_LOGO", ""),
		"a PNG or JPEG file with the agency's logo, printed at the head of loan agreements; empty: none (env DEVICEBANK_AGENCY_LOGO)")
	fs.StringVar(&c.Currency, "currency", env("DEVICEBANK_CURRENCY", "USD"),
		"the ISO 4217 code of the currency replacement costs are in, such as USD, CAD or EUR (env DEVICEBANK_CURRENCY)")
	fs.StringVar(&c.Timezone, "timezone", env("DEVICEBANK_TIMEZONE", ""),
		"the agency's time zone, such as America/Chicago, which decides when a loan is overdue and when reminders go; empty: UTC, with a warning at start (env DEVICEBANK_TIMEZONE)")
	fs.StringVar(&c.DefaultCountry, "default-country", env("DEVICEBANK_DEFAULT_COUNTRY", phone.DefaultRegion),
		"the country (ISO code such as US, CA, MX) in which a client phone number written without its country code is read; numbers are stored in E.164 (env DEVICEBANK_DEFAULT_COUNTRY)")
	c.DataKey = os.Getenv("DEVICEBANK_DATA_KEY")
	fs.StringVar(&c.DataKeyFile, "data-key-file", os.Getenv("DEVICEBANK_DATA_KEY_FILE"),
		"the file holding the data key that protects client data (mode 0600; or the key itself in env DEVICEBANK_DATA_KEY); empty, on SQLite: DATABASE.key beside the database, made on a new one (env DEVICEBANK_DATA_KEY_FILE)")
	fs.StringVar(&c.LogLevel, "log-level", env("DEVICEBANK_LOG_LEVEL", "info"), "debug, info, warn or error (env DEVICEBANK_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("DEVICEBANK_LOG_FORMAT", "text"), "text or json (env DEVICEBANK_LOG_FORMAT)")
	fs.StringVar(&c.Pool.MaxOpen, "db-max-open-conns", env("DEVICEBANK_DB_MAX_OPEN_CONNS", ""),
		"most connections open to the database at once; empty: 20 on PostgreSQL, twice the cores (at least 4) on SQLite (env DEVICEBANK_DB_MAX_OPEN_CONNS)")
	fs.StringVar(&c.Pool.MaxIdle, "db-max-idle-conns", env("DEVICEBANK_DB_MAX_IDLE_CONNS", ""),
		"most unused connections kept open; empty: as many as --db-max-open-conns (env DEVICEBANK_DB_MAX_IDLE_CONNS)")
	fs.StringVar(&c.Pool.MaxLifetime, "db-conn-max-lifetime", env("DEVICEBANK_DB_CONN_MAX_LIFETIME", ""),
		"a connection is renewed after this long, such as 1h; 0: never; empty: 1h on PostgreSQL, never on SQLite (env DEVICEBANK_DB_CONN_MAX_LIFETIME)")
	fs.StringVar(&c.Pool.MaxIdleTime, "db-conn-max-idle-time", env("DEVICEBANK_DB_CONN_MAX_IDLE_TIME", ""),
		"a connection unused for this long is closed, such as 5m; 0: never; empty: 5m on PostgreSQL, never on SQLite (env DEVICEBANK_DB_CONN_MAX_IDLE_TIME)")
}

// location is the agency's time zone; none set is UTC.
func (c *config) location() (*time.Location, error) {
	if c.Timezone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("--timezone %q is not a known time zone (try America/Chicago)", c.Timezone)
	}
	return loc, nil
}

// maxLogoBytes bounds the logo file read at start.
const maxLogoBytes = 2 << 20

// agency sets the agency's details, logo and currency in opts, checked: a
// logo that cannot be read or is not a PNG or JPEG stops the command.
func (c *config) agency(opts *app.Options) error {
	unit, err := currency.ParseISO(c.Currency)
	if err != nil {
		return fmt.Errorf("--currency %q is not an ISO 4217 currency code (try USD, CAD or EUR)", c.Currency)
	}
	opts.AgencyName, opts.AgencyAddress, opts.AgencyEmail, opts.Currency = c.AgencyName, c.AgencyAddress, c.AgencyEmail, unit
	if c.AgencyLogo == "" {
		return nil
	}
	f, err := os.Open(c.AgencyLogo)
	if err != nil {
		return fmt.Errorf("--agency-logo: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLogoBytes+1))
	if err != nil {
		return fmt.Errorf("--agency-logo: %w", err)
	}
	if len(b) > maxLogoBytes {
		return fmt.Errorf("--agency-logo %s is larger than 2 MB: use a smaller image", c.AgencyLogo)
	}
	if opts.AgencyLogo, err = documents.CleanImage(b, documents.LogoRules); err != nil {
		return fmt.Errorf("--agency-logo %s: %v (a PNG or JPEG of at most %d pixels)", c.AgencyLogo, err, documents.MaxImagePixels)
	}
	return nil
}

// region is the default country for phone numbers, checked.
func (c *config) region() (string, error) {
	if !phone.KnownRegion(c.DefaultCountry) {
		return "", fmt.Errorf("--default-country %q is not a country code with phone numbering rules (try US, CA or MX)", c.DefaultCountry)
	}
	return strings.ToUpper(c.DefaultCountry), nil
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error")
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch c.LogFormat {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format must be text or json")
	}
	if b, ok := w.(*logBuffer); ok {
		h = flushAtWarnings{h, b}
	}
	return slog.New(h), nil
}

// tokenConfig is how long API tokens work.
type tokenConfig struct {
	Lifetime, IdleTimeout string
}

func (c *tokenConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Lifetime, "token-lifetime", env("DEVICEBANK_TOKEN_LIFETIME", "30d"),
		"how long an API token works after it is made, such as 30d or 12h (env DEVICEBANK_TOKEN_LIFETIME)")
	fs.StringVar(&c.IdleTimeout, "token-idle-timeout", env("DEVICEBANK_TOKEN_IDLE_TIMEOUT", "72h"),
		"an API token not used for this long stops working, such as 72h or 7d (env DEVICEBANK_TOKEN_IDLE_TIMEOUT)")
}

// apply sets the token lifetimes of opts.
func (c *tokenConfig) apply(opts *app.Options) error {
	var err error
	if opts.TokenLifetime, err = parseDuration("token-lifetime", c.Lifetime); err != nil {
		return err
	}
	opts.TokenIdleTimeout, err = parseDuration("token-idle-timeout", c.IdleTimeout)
	return err
}

// tokenCacheTTL reads serve's --token-cache-ttl: a duration from 0 (off)
// to accounts.MaxTokenCacheTTL.
func tokenCacheTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > accounts.MaxTokenCacheTTL {
		return 0, fmt.Errorf("--token-cache-ttl must be a duration from 0 (off) to 1m, such as 10s; got %q", s)
	}
	return d, nil
}

// parseDuration reads a Go duration ("12h", "90m") or a number of days
// ("30d"), of at least five minutes (a token's use is recorded to the minute).
func parseDuration(flag, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || d < 5*time.Minute {
		return 0, fmt.Errorf("--%s must be a duration of at least 5 minutes, such as 30d, 72h or 90m; got %q", flag, s)
	}
	return d, nil
}

// defaultTokenCacheTTL is --token-cache-ttl's default: nearly every API
// request then costs one query less, and a change whose notification was
// somehow missed would still last no more than 10 seconds.
const defaultTokenCacheTTL = 10 * time.Second
