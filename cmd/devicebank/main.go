// Command devicebank runs the DeviceBank service and its administrative
// tasks. Run "devicebank help" for the subcommands, and "devicebank
// SUBCOMMAND --help" for each one's flags.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/buildinfo"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/metrics"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful stop; a second one kills at once.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `DeviceBank lends phones, tablets, laptops, hotspots and data plans.

Usage: devicebank COMMAND [flags]

Commands:
  serve            run the HTTP service (applies migrations first)
  migrate          apply database migrations and exit
  users add        add a staff member
  users list       list staff members
  users reset-password  give a staff member a new one-time password
  tokens create    create an API token for a staff member
  tokens revoke    revoke an API token
  notify sweep     create the reminders that are due, once
  notify dispatch  send the pending reminders, once
  notify digest    create today's coordinator digest, once
  notify reports   queue last month's report to each funder, once
  report           write the utilization report to a file (JSON, CSV or PDF)
  backup           copy the SQLite database to a file while the service runs
  keys generate    print a new data key, which protects client data
  keys rotate      wrap the database's data keys under a new data key
  keys rotate-data seal client records under a new data key (the service keeps running)
  audit verify     check that no audit event was changed or removed
  retention run    erase what is kept no longer, once (--dry-run: only count)
  version          print the version of this build

Run "devicebank COMMAND --help" for a command's flags.
`

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	if cmd == "users" || cmd == "tokens" || cmd == "notify" || cmd == "keys" || cmd == "audit" || cmd == "retention" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			// A group alone: its commands, on stdout with exit 0 when asked for.
			help := len(rest) > 0 && (rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help")
			out := stderr
			if help {
				out = stdout
			}
			fmt.Fprint(out, groupUsage(cmd))
			if help {
				return 0
			}
			return 2
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	commands := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) error{
		"serve":                serve,
		"migrate":              migrate,
		"users add":            usersAdd,
		"users list":           usersList,
		"users reset-password": usersResetPassword,
		"tokens create":        tokensCreate,
		"tokens revoke":        tokensRevoke,
		"notify sweep":         notifyCommand("sweep"),
		"notify dispatch":      notifyCommand("dispatch"),
		"notify digest":        notifyCommand("digest"),
		"notify reports":       notifyCommand("reports"),
		"report":               report,
		"backup":               backup,
		"keys generate":        keysGenerate,
		"keys rotate":          keysRotate,
		"keys rotate-data":     keysRotateData,
		"audit verify":         auditVerify,
		"retention run":        retentionRun,
		"version":              version,
	}
	fn, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "devicebank: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := fn(ctx, rest, stdin, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "devicebank %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// groupUsage is the usage of a command group ("users"): its lines of usage.
func groupUsage(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: devicebank %s COMMAND [flags]\n\nCommands:\n", group)
	for _, line := range strings.Split(usage, "\n") {
		if strings.HasPrefix(line, "  "+group+" ") {
			b.WriteString(line + "\n")
		}
	}
	fmt.Fprintf(&b, "\nRun \"devicebank %s COMMAND --help\" for a command's flags.\n", group)
	return b.String()
}

// errUsage reports bad flags (already explained by the flag package).
var errUsage = errors.New("usage")

func parse(fs *flag.FlagSet, args []string) error {
	if err := envErr; err != nil {
		envErr = nil
		return err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// open connects to the configured database and, unless told not to,
// brings it up to date (upgrade).
func open(ctx context.Context, cfg *config, migrate bool) (*storage.DB, error) {
	if _, err := cfg.region(); err != nil {
		return nil, err
	}
	// The pool's settings are checked before anything is opened or created.
	pool, err := cfg.Pool.Resolve(storage.EngineOf(cfg.DatabaseURL))
	if err != nil {
		return nil, err
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	db.SetPool(pool)
	if migrate {
		if _, _, err := upgrade(ctx, db, cfg); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// upgrade checks a configured data key against the database's keys, then
// applies the migrations db has not seen, then converts what SQL cannot:
// client phone numbers stored before numbers were kept in E.164. Both are
// idempotent and safe with several instances starting at once.
// It returns the migrations applied and what the conversion did.
func upgrade(ctx context.Context, db *storage.DB, cfg *config) ([]string, clients.PhoneBackfill, error) {
	region, err := cfg.region()
	if err != nil {
		return nil, clients.PhoneBackfill{}, err
	}
	if err := cfg.checkKeyBeforeUpgrade(ctx, db); err != nil {
		return nil, clients.PhoneBackfill{}, err
	}
	applied, err := migrations.Apply(ctx, db)
	if err != nil {
		return nil, clients.PhoneBackfill{}, err
	}
	phones, err := clients.NormalizeStoredPhones(ctx, db, region, time.Now())
	if err != nil {
		return nil, clients.PhoneBackfill{}, fmt.Errorf("convert client phone numbers to E.164: %w", err)
	}
	return applied, phones, nil
}

// unconvertiblePhones says which clients' stored numbers could not be
// converted to E.164 (their ids, never the numbers), or "".
func unconvertiblePhones(p clients.PhoneBackfill) string {
	if len(p.Unconvertible) == 0 {
		return ""
	}
	ids := make([]string, len(p.Unconvertible))
	for i, id := range p.Unconvertible {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return fmt.Sprintf("client phone numbers left as they were, not being numbers in use: %d (clients %s); "+
		"texts to them fail and SMS replies cannot be matched to them until they are corrected",
		len(ids), strings.Join(ids, ", "))
}

// withServices opens the configured database, brings it up to date, and
// runs fn with the services on it, built with opts.
func withServices(ctx context.Context, cfg *config, opts app.Options, fn func(svc *app.Services) error) error {
	db, err := open(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	data, err := cfg.openData(ctx, db)
	if err != nil {
		return err
	}
	data.report(func(level slog.Level, msg string) { slog.Log(ctx, level, msg) })
	opts.Keys = data.ring
	if err := fn(app.New(db, opts)); err != nil {
		return describe(err)
	}
	return nil
}

func serve(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("serve", "Run the DeviceBank HTTP service. On an empty database it creates the first admin\nand prints their email and a one-time password.", stderr)
	cfg.register(fs)
	addr := fs.String("addr", env("DEVICEBANK_ADDR", ":8080"), "address to listen on (env DEVICEBANK_ADDR)")
	metricsAddr := fs.String("metrics-addr", env("DEVICEBANK_METRICS_ADDR", ""), metricsFlagHelp)
	noMigrate := fs.Bool("no-migrate", env("DEVICEBANK_NO_MIGRATE", "") == "true", "do not apply migrations at start (env DEVICEBANK_NO_MIGRATE=true)")
	var nc notifyConfig
	nc.register(fs)
	var specs notifications.Schedules
	fs.StringVar(&specs.Sweep, "sweep-schedule", env("DEVICEBANK_SWEEP_SCHEDULE", notifications.DefaultSchedules.Sweep),
		"cron spec (agency time) of the sweep that creates due reminders; off: none (env DEVICEBANK_SWEEP_SCHEDULE)")
	fs.StringVar(&specs.Dispatch, "dispatch-schedule", env("DEVICEBANK_DISPATCH_SCHEDULE", notifications.DefaultSchedules.Dispatch),
		"cron spec of the dispatcher that sends pending reminders; off: none (env DEVICEBANK_DISPATCH_SCHEDULE)")
	fs.StringVar(&specs.Digest, "digest-schedule", env("DEVICEBANK_DIGEST_SCHEDULE", notifications.DefaultSchedules.Digest),
		"cron spec of the coordinators' daily digest; off: none (env DEVICEBANK_DIGEST_SCHEDULE)")
	auditChainSpec := fs.String("audit-chain-schedule", env("DEVICEBANK_AUDIT_CHAIN_SCHEDULE", defaultAuditChainSchedule),
		"cron spec of the job that links new audit events into the tamper-evident chain (see docs/privacy.md); off: none (env DEVICEBANK_AUDIT_CHAIN_SCHEDULE)")
	resealSpec := fs.String("reseal-schedule", env("DEVICEBANK_RESEAL_SCHEDULE", defaultResealSchedule),
		"cron spec of the job that picks up a new data key (keys rotate-data) and seals client records under it; off: none (env DEVICEBANK_RESEAL_SCHEDULE)")
	retentionSpec := fs.String("retention-schedule", env("DEVICEBANK_RETENTION_SCHEDULE", defaultRetentionSchedule),
		"cron spec (agency time) of the job that erases what is kept no longer (see docs/privacy.md); off: none (env DEVICEBANK_RETENTION_SCHEDULE)")
	fs.StringVar(&specs.Reports, "report-schedule", env("DEVICEBANK_REPORT_SCHEDULE", notifications.DefaultSchedules.Reports),
		"cron spec of the monthly email of last month's utilization report (PDF) to each funder; off: none (env DEVICEBANK_REPORT_SCHEDULE)")
	var tc tokenConfig
	tc.register(fs)
	cacheTTL := fs.String("token-cache-ttl", env("DEVICEBANK_TOKEN_CACHE_TTL", defaultTokenCacheTTL.String()),
		"on PostgreSQL, how long a token's lookup is kept in memory, such as 10s, up to 1m; every instance forgets it when the token or its user changes (see docs/operations.md); 0: off; no effect on SQLite (env DEVICEBANK_TOKEN_CACHE_TTL)")
	sessionIdle := fs.String("session-idle-timeout", env("DEVICEBANK_SESSION_IDLE_TIMEOUT", "30m"),
		"a signed-in browser unused for this long is signed out, such as 30m or 1h; at least 5m (env DEVICEBANK_SESSION_IDLE_TIMEOUT)")
	proxies := fs.String("trusted-proxies", env("DEVICEBANK_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For to believe (env DEVICEBANK_TRUSTED_PROXIES)")
	remindEvery := fs.String("remind-now-interval", env("DEVICEBANK_REMIND_NOW_INTERVAL", notifications.DefaultRemindNowInterval.String()),
		"how long after a manual reminder about a loan (remind now) the next may be sent, such as 10m or 1h; 0: no limit (env DEVICEBANK_REMIND_NOW_INTERVAL)")
	stopTimeout := fs.String("shutdown-timeout", env("DEVICEBANK_SHUTDOWN_TIMEOUT", defaultShutdownTimeout.String()),
		"after SIGTERM or SIGINT, how long to wait for requests and scheduled jobs in flight, such as 20s or 1m (env DEVICEBANK_SHUTDOWN_TIMEOUT)")
	adminEmail := fs.String("admin-email", env("DEVICEBANK_ADMIN_EMAIL", "admin@devicebank.local"), "email of the first admin, created on an empty database (env DEVICEBANK_ADMIN_EMAIL)")
	if err := parse(fs, args); err != nil {
		return err
	}
	logOut := newLogBuffer(stderr)
	defer logOut.Close()
	opts, log, err := nc.setup(&cfg, logOut)
	if err != nil {
		return err
	}
	if err := tc.apply(&opts); err != nil {
		return err
	}
	if opts.SessionIdleTimeout, err = parseDuration("session-idle-timeout", *sessionIdle); err != nil {
		return err
	}
	if opts.TokenCacheTTL, err = tokenCacheTTL(*cacheTTL); err != nil {
		return err
	}
	webhook, err := nc.webhook()
	if err != nil {
		return err
	}
	if opts.RemindNowInterval, err = remindNowInterval(*remindEvery); err != nil {
		return err
	}
	gracePeriod, err := shutdownTimeout(*stopTimeout)
	if err != nil {
		return err
	}
	metricsLn, err := listenMetrics(*metricsAddr, *addr)
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close()
	}
	db, err := open(ctx, &cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if !*noMigrate {
		_, phones, err := upgrade(ctx, db, &cfg)
		if err != nil {
			return err
		}
		if phones.Converted > 0 {
			log.Info("client phone numbers converted to E.164", "count", phones.Converted)
		}
		if msg := unconvertiblePhones(phones); msg != "" {
			log.Warn(msg)
		}
	}
	data, err := cfg.openData(ctx, db)
	if err != nil {
		return err
	}
	data.report(func(level slog.Level, msg string) { log.Log(ctx, level, msg) })
	ring := data.ring
	opts.Keys = ring
	svc := app.New(db, opts)
	stopTokenCache := func() {}
	if svc.Accounts.Tokens != nil {
		stopTokenCache = svc.Accounts.Tokens.Start(db.DB, log)
		defer stopTokenCache() // stopping twice is harmless
	}
	var m *metrics.Metrics
	stopMetrics := func() {}
	if metricsLn != nil {
		m, stopMetrics = startMetrics(metricsLn, svc, log, stdout)
		defer stopMetrics() // stopping twice is harmless
	}
	jobCtx, cancelJobs := jobContext(ctx)
	defer cancelJobs()
	scheduler, err := svc.Notifications.NewScheduler(jobCtx, specs, log)
	if err != nil {
		return err
	}
	if err := scheduleJob(jobCtx, scheduler, "audit-chain", *auditChainSpec, log, linkAuditTrail(db, ring, log)); err != nil {
		return err
	}
	if err := scheduleJob(jobCtx, scheduler, "retention", *retentionSpec, log, applyRetention(db, svc.Clients, log)); err != nil {
		return err
	}
	if err := scheduleJob(jobCtx, scheduler, "reseal", *resealSpec, log, resealJob(db, ring, log)); err != nil {
		return err
	}

	admin, password, err := svc.Accounts.EnsureFirstAdmin(ctx, *adminEmail)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if admin != nil {
		fmt.Fprintf(stdout, "Created the first admin.\n  email:             %s\n  one-time password: %s\n"+
			"Sign in at /login in a browser, or with POST /api/v1/auth/token {\"email\", \"password\", \"new_password\"},\n"+
			"to choose a new password.\n",
			admin.Email, password)
	}

	trustedProxies, err := web.ParseTrustedProxies(splitList(*proxies))
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	server := web.New(svc, web.Config{Logger: log, TrustedProxies: trustedProxies, SMSWebhook: webhook, Metrics: m})
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		purgeIdempotencyKeys(ctx, svc, log)
	}()
	scheduler.Start()
	log.Info("DeviceBank is listening", "addr", ln.Addr().String(), "database", db.Engine, "version", buildinfo.Read().String())
	fmt.Fprintf(stdout, "DeviceBank is listening on %s (database: %s)\n", ln.Addr().String(), db.Engine)

	errc := make(chan error, 1)
	go func() { errc <- server.App().Listener(ln) }()
	select {
	case err := <-errc:
		cancelJobs()
		<-scheduler.Stop().Done()
		return err
	case <-ctx.Done():
		// The token cache's listener and the metrics stop last, just
		// before the database they use closes.
		closeAll := closerFunc(func() error { stopTokenCache(); stopMetrics(); return db.Close() })
		return stopGracefully(log, gracePeriod, server.App(), scheduler, cancelJobs, purged, closeAll)
	}
}

// purgeIdempotencyKeys forgets Idempotency-Keys older than their retention,
// hourly, until ctx ends. Several instances may do it at once harmlessly.
func purgeIdempotencyKeys(ctx context.Context, svc *app.Services, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := svc.Idempotency.Purge(ctx, idempotency.Retention); err != nil && ctx.Err() == nil {
			log.Warn("purge idempotency keys", "error", err.Error())
		} else if n > 0 {
			log.Info("purged idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// remindNowInterval reads --remind-now-interval as app.Options takes it.
func remindNowInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil || d < 0:
		return 0, fmt.Errorf("--remind-now-interval must be a duration such as 10m or 1h, or 0 for no limit (got %q)", s)
	case d == 0:
		return -1, nil // no limit
	}
	return d, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func migrate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("migrate", "Apply the database migrations that have not been applied yet.", stderr)
	cfg.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := open(ctx, &cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, phones, err := upgrade(ctx, db, &cfg)
	if err != nil {
		return err
	}
	data, err := cfg.openData(ctx, db)
	if err != nil {
		return err
	}
	data.report(func(level slog.Level, msg string) {
		if level >= slog.LevelWarn {
			fmt.Fprintln(stderr, msg)
		} else {
			fmt.Fprintln(stdout, msg)
		}
	})
	if len(applied) == 0 && phones.Converted == 0 && !data.sealedAny() {
		fmt.Fprintln(stdout, "The database is up to date.")
	}
	for _, name := range applied {
		fmt.Fprintln(stdout, "applied", name)
	}
	if phones.Converted > 0 {
		fmt.Fprintf(stdout, "client phone numbers converted to E.164: %d\n", phones.Converted)
	}
	if msg := unconvertiblePhones(phones); msg != "" {
		fmt.Fprintln(stdout, msg)
	}
	return nil
}

func usersAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("users add", "Add a staff member. Without --password-stdin a one-time password is generated\nand printed; it must be changed at first sign-in.", stderr)
	cfg.register(fs)
	email := fs.String("email", "", "the staff member's email (required)")
	name := fs.String("name", "", "their full name (required)")
	role := fs.String("role", "", "admin, coordinator, social_worker or funder (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := parse(fs, args); err != nil {
		return err
	}
	in := accounts.NewUser{Email: *email, Name: *name, Role: accounts.Role(*role)}
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		in.Password = strings.TrimRight(line, "\r\n")
	} else {
		in.Password = accounts.RandomPassword()
		in.MustChangePassword = true
	}
	return withServices(ctx, &cfg, app.Options{}, func(svc *app.Services) error {
		u, err := svc.Accounts.CreateUser(ctx, nil, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added %s <%s> as %s (id %d).\n", u.Name, u.Email, u.Role, u.ID)
		if !*fromStdin {
			fmt.Fprintf(stdout, "One-time password: %s\n", in.Password)
		}
		return nil
	})
}

func usersList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("users list", "List staff members.", stderr)
	cfg.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	return withServices(ctx, &cfg, app.Options{}, func(svc *app.Services) error {
		for p := (storage.Page{Limit: storage.MaxPageLimit}); ; p.Offset += p.Limit {
			users, total, err := svc.Accounts.ListUsers(ctx, p)
			if err != nil {
				return err
			}
			for _, u := range users {
				state := "active"
				if !u.Active {
					state = "deactivated"
				}
				fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, state, u.Name)
			}
			if p.Offset+p.Limit >= total {
				return nil
			}
		}
	})
}

func tokensCreate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("tokens create", "Create an API token for a staff member. The token is printed alone on the\nlast line; it is stored hashed and cannot be shown again.", stderr)
	cfg.register(fs)
	var tc tokenConfig
	tc.register(fs)
	email := fs.String("email", "", "the staff member's email (required)")
	name := fs.String("name", "cli", "a label for the token, such as the machine it is for")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fs.Usage()
		return errUsage
	}
	var opts app.Options
	if err := tc.apply(&opts); err != nil {
		return err
	}
	return withServices(ctx, &cfg, opts, func(svc *app.Services) error {
		u, err := svc.Accounts.UserByEmail(ctx, *email)
		if err != nil {
			return err
		}
		token, t, err := svc.Accounts.CreateToken(ctx, nil, u.ID, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Token %d (%s) for %s <%s>, role %s, works until %s if used at least every %s:\n%s\n",
			t.ID, t.Name, u.Name, u.Email, u.Role, t.ExpiresAt.Format(time.RFC3339), svc.Accounts.TokenIdleTimeout, token)
		return nil
	})
}

func usersResetPassword(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("users reset-password", "Give a staff member a new one-time password, printed once; they must replace it at\ntheir next sign-in. Every API token of theirs stops working.", stderr)
	cfg.register(fs)
	email := fs.String("email", "", "the staff member's email (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fs.Usage()
		return errUsage
	}
	return withServices(ctx, &cfg, app.Options{}, func(svc *app.Services) error {
		u, err := svc.Accounts.UserByEmail(ctx, *email)
		if err != nil {
			return err
		}
		password, err := svc.Accounts.ResetPassword(ctx, nil, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Reset the password of %s <%s> (id %d); their tokens are revoked.\nOne-time password: %s\n", u.Name, u.Email, u.ID, password)
		return nil
	})
}

func tokensRevoke(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("tokens revoke", "Revoke an API token by its id.", stderr)
	cfg.register(fs)
	id := fs.Int64("id", 0, "the token's id (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id <= 0 {
		fs.Usage()
		return errUsage
	}
	return withServices(ctx, &cfg, app.Options{}, func(svc *app.Services) error {
		// The CLI acts with the machine's authority, as an admin would.
		system := &accounts.Actor{Role: accounts.Admin}
		if err := svc.Accounts.RevokeToken(ctx, system, *id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Token %d is revoked.\n", *id)
		return nil
	})
}
