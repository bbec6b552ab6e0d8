// Package web is DeviceBank's HTTP face: the Fiber app, its middleware, the
// JSON API under /api/v1 and the OpenAPI document that describes it.
// Handlers decode input, call a domain service and encode the result; the
// rules live in the domain packages.
package web

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/buildinfo"
	"github.com/devicebank/devicebank/metrics"
	"github.com/devicebank/devicebank/web/pages"
)

// DefaultBodyLimit is the largest request body accepted.
const DefaultBodyLimit = 1 << 20

// Config tunes the server; the zero value is fine for production.
type Config struct {
	Logger    *slog.Logger
	BodyLimit int
	// SignInPerMinute limits failed password sign-ins per client address
	// and minute; 0 means 10.
	SignInPerMinute int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// is believed (see ParseTrustedProxies). Empty: none.
	TrustedProxies []netip.Prefix
	// SMSWebhook checks the SMS provider's inbound webhook; nil: SMS is not
	// configured and the webhook answers 404.
	SMSWebhook *SMSWebhook
	// Metrics, when set, records every request, by route pattern, and the
	// refused sign-ins. The server does not serve them: they belong on an
	// address of their own (see metrics.Metrics.Handler).
	Metrics *metrics.Metrics
}

// Server is the HTTP application.
type Server struct {
	app *fiber.App
	svc *app.Services
	log *slog.Logger
	sms *SMSWebhook
	// proxies are the trusted reverse proxies (see clientAddress).
	proxies []netip.Prefix
	// pages are the web pages for staff, beside the API.
	pages *pages.Pages
	// metrics is nil when metrics are off.
	metrics *metrics.Metrics
	// middlewareRoutes are the routes of the middleware every request
	// passes (app.Use), which are no route's pattern.
	middlewareRoutes map[*fiber.Route]bool
}

// Route is one API route and the permission it requires. An empty
// permission means any signed-in user; Public means no sign-in at all.
type Route struct {
	Method     string
	Path       string
	Permission accounts.Permission
	handler    fiber.Handler
}

// Public marks routes that need no token.
const Public accounts.Permission = "public"

// New builds the server on the given services.
func New(svc *app.Services, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.SignInPerMinute == 0 {
		cfg.SignInPerMinute = 10
	}
	s := &Server{svc: svc, log: cfg.Logger, sms: cfg.SMSWebhook, proxies: cfg.TrustedProxies, metrics: cfg.Metrics}
	s.app = fiber.New(fiber.Config{
		AppName:               "DeviceBank",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	// Nothing before rejectEncodedBody may read the body. The request
	// metrics stand outside logRequests, which turns an error into its
	// response: they count the status the client got.
	middleware := []any{withSecureHeaders, s.assignRequestID}
	if s.metrics != nil {
		middleware = append(middleware, s.observeRequests)
	}
	s.app.Use(append(middleware, s.logRequests, recover.New(), rejectEncodedBody, rejectNULQuery)...)
	// The routes so far are the middleware's, one per method: a request
	// that ends on one of them matched no route.
	s.middlewareRoutes = map[*fiber.Route]bool{}
	for _, stack := range s.app.Stack() {
		for _, r := range stack {
			s.middlewareRoutes[r] = true
		}
	}
	s.app.Get("/healthz", s.health)

	// One limit of failed sign-ins per address, for the API and the
	// sign-in page together.
	signInLimit := s.signInLimit(cfg.SignInPerMinute, cfg.TrustedProxies)
	s.pages = pages.New(pages.Config{Services: svc, Logger: cfg.Logger, SignInLimit: signInLimit, SignInFailed: s.metrics.SignInFailed,
		ClientAddress: func(c *fiber.Ctx) string { return clientAddress(c, s.proxies) },
		Secure:        func(c *fiber.Ctx) bool { return overTLS(c, s.proxies) }})
	s.pages.Mount(s.app)
	for _, r := range s.Routes() {
		handlers := []fiber.Handler{}
		switch r.Permission {
		case Public:
		default:
			handlers = append(handlers, s.authenticate, require(r.Permission))
		}
		if r.Path == "/api/v1/auth/token" {
			handlers = append(handlers, signInLimit...)
		}
		if r.keyed() {
			handlers = append(handlers, s.idempotent(replayOf(r)))
		}
		s.app.Add(r.Method, r.Path, append(handlers, r.handler)...)
	}
	return s
}

// App returns the Fiber app, to listen or to test.
func (s *Server) App() *fiber.App { return s.app }

// Pages returns the web pages, which are not API routes (Routes).
func (s *Server) Pages() *pages.Pages { return s.pages }

// Routes is the API: every route, its permission and its handler. The
// OpenAPI document and the role tests are checked against this list.
func (s *Server) Routes() []Route {
	const v1 = "/api/v1"
	inv, elig := s.svc.Inventory, s.svc.Eligibility
	return []Route{
		{"GET", v1 + "/openapi.json", Public, s.openAPI},
		{"POST", v1 + "/auth/token", Public, s.signIn},
		{"GET", v1 + "/me", "", s.me},
		{"POST", v1 + "/me/password", "", s.changePassword},
		{"GET", v1 + "/tokens", "", s.listTokens},
		{"POST", v1 + "/tokens", "", s.createToken},
		{"DELETE", v1 + "/tokens/:id", "", s.revokeToken},

		{"GET", v1 + "/users", accounts.ManageUsers, s.listUsers},
		{"POST", v1 + "/users", accounts.ManageUsers, s.createUser},
		{"GET", v1 + "/users/:id", accounts.ManageUsers, s.getUser},
		{"PATCH", v1 + "/users/:id", accounts.ManageUsers, s.updateUser},
		{"POST", v1 + "/users/:id/password-reset", accounts.ManageUsers, s.resetPassword},

		{"GET", v1 + "/devices", accounts.ReadDevices, s.listDevices},
		{"POST", v1 + "/devices", accounts.ManageDevices, s.createDevice},
		// Before /devices/:id, which would take "labels.pdf" for an id.
		{"GET", v1 + "/devices/labels.pdf", accounts.ManageDevices, s.deviceLabels},
		{"GET", v1 + "/devices/:id", accounts.ReadDevices, s.getDevice},
		{"PATCH", v1 + "/devices/:id", accounts.ManageDevices, s.updateDevice},
		{"POST", v1 + "/devices/:id/inspection", accounts.ManageDevices, s.inspectDevice},
		{"GET", v1 + "/devices/:id/history", accounts.ManageDevices, s.deviceHistory},

		{"GET", v1 + "/data-plans", accounts.ManageDevices, s.listDataPlans},
		{"POST", v1 + "/data-plans", accounts.ManageDevices, s.createDataPlan},
		{"GET", v1 + "/data-plans/:id", accounts.ManageDevices, s.getDataPlan},
		{"PATCH", v1 + "/data-plans/:id", accounts.ManageDevices, s.updateDataPlan},

		{"GET", v1 + "/funding-sources", accounts.ReadFunding, s.listFundingSources},
		{"POST", v1 + "/funding-sources", accounts.ManageFunding, s.createFundingSource},
		{"GET", v1 + "/funding-sources/:id", accounts.ReadFunding, s.getFundingSource},
		{"PATCH", v1 + "/funding-sources/:id", accounts.ManageFunding, s.updateFundingSource},

		{"GET", v1 + "/clients", accounts.ReadClients, s.listClients},
		{"POST", v1 + "/clients", accounts.WriteClients, s.createClient},
		{"GET", v1 + "/clients/:id", accounts.ReadClients, s.getClient},
		{"PATCH", v1 + "/clients/:id", accounts.WriteClients, s.updateClient},
		{"GET", v1 + "/clients/:id/history", accounts.ReadClients, s.clientHistory},
		{"GET", v1 + "/clients/:id/export", accounts.ReadClients, s.exportClient},
		{"POST", v1 + "/clients/:id/erase", accounts.ManageUsers, s.eraseClient},

		{"GET", v1 + "/loans", accounts.ReadLoans, s.listLoans},
		{"GET", v1 + "/reports/utilization", accounts.ReadReports, s.utilizationReport},
		{"GET", v1 + "/reports/devices.csv", accounts.ExportRecords, s.recordsExport},
		{"POST", v1 + "/loans", accounts.ManageLoans, s.issueLoan},
		{"GET", v1 + "/loans/:id", accounts.ReadLoans, s.getLoan},
		// Whoever may see the loan: a social worker signs for their own
		// clients as well.
		{"GET", v1 + "/loans/:id/agreement.pdf", accounts.ReadLoans, s.loanAgreementPDF},
		{"GET", v1 + "/loans/:id/agreement", accounts.ReadLoans, s.loanAgreement},
		{"POST", v1 + "/loans/:id/agreement/acceptance", accounts.ReadLoans, s.acceptAgreement},
		{"POST", v1 + "/loans/:id/return", accounts.ManageLoans, loanAction(inv.ReturnLoan)},
		{"POST", v1 + "/loans/:id/renew", accounts.ManageLoans, loanAction(inv.RenewLoan)},
		{"POST", v1 + "/loans/:id/lost", accounts.ManageLoans, loanAction(inv.MarkLost)},
		{"POST", v1 + "/loans/:id/recovered", accounts.ManageLoans, loanAction(inv.RecordRecovered)},

		{"POST", v1 + "/eligibility/check", accounts.CheckEligibility, s.checkEligibility},
		{"GET", v1 + "/eligibility/rules", accounts.ManageEligibility, s.currentRules},
		{"PUT", v1 + "/eligibility/rules", accounts.ManageEligibility, s.replaceRules},
		{"GET", v1 + "/eligibility/rules/versions", accounts.ManageEligibility, s.ruleVersions},
		{"GET", v1 + "/eligibility/guidelines", accounts.ManageEligibility, s.listGuidelines},
		{"GET", v1 + "/eligibility/guidelines/:id", accounts.ManageEligibility, s.getGuideline},
		{"POST", v1 + "/eligibility/guidelines", accounts.ManageEligibility, s.loadGuideline},

		{"POST", v1 + "/requests", accounts.FileRequests, s.fileRequest},
		{"GET", v1 + "/requests", accounts.ReadRequests, s.listRequests},
		{"GET", v1 + "/requests/:id", accounts.ReadRequests, s.getRequest},
		{"POST", v1 + "/requests/:id/approve", accounts.DecideRequests, requestAction(elig.Approve)},
		{"POST", v1 + "/requests/:id/deny", accounts.DecideRequests, requestAction(elig.Deny)},
		{"POST", v1 + "/requests/:id/override", accounts.DecideRequests, requestAction(elig.Override)},
		{"POST", v1 + "/requests/:id/cancel", accounts.CancelRequests, s.cancelRequest},
		{"GET", v1 + "/waitlist", accounts.DecideRequests, s.waitlist},

		{"POST", v1 + "/training/sessions", accounts.ManageTraining, s.createSession},
		{"GET", v1 + "/training/sessions", accounts.ReadTraining, s.listSessions},
		{"GET", v1 + "/training/sessions/:id", accounts.ReadTraining, s.getSession},
		{"PATCH", v1 + "/training/sessions/:id", accounts.ManageTraining, s.updateSession},
		{"POST", v1 + "/training/sessions/:id/cancel", accounts.ManageTraining, s.cancelSession},
		{"GET", v1 + "/training/sessions/:id/enrollments", accounts.ManageTraining, s.listEnrollments},
		{"POST", v1 + "/training/sessions/:id/enrollments", accounts.EnrollTraining, s.enroll},
		{"GET", v1 + "/training/sessions/:id/enrollments/:client_id", accounts.ReadTraining, s.getPlace},
		{"DELETE", v1 + "/training/sessions/:id/enrollments/:client_id", accounts.EnrollTraining, s.withdraw},
		{"POST", v1 + "/training/sessions/:id/attendance", accounts.ManageTraining, s.recordAttendance},
		{"GET", v1 + "/clients/:id/training", accounts.ReadTraining, s.clientTraining},
		{"GET", v1 + "/clients/:id/training/certificates/:module", accounts.ReadTraining, s.certificate},

		{"GET", v1 + "/notifications", accounts.ReadNotifications, s.listNotifications},
		{"GET", v1 + "/notifications/policy", accounts.ReadNotifications, s.reminderPolicy},
		{"PUT", v1 + "/notifications/policy", accounts.ManageReminders, s.setReminderPolicy},
		{"GET", v1 + "/retention/policy", accounts.ManageUsers, s.retentionPolicy},
		{"PUT", v1 + "/retention/policy", accounts.ManageUsers, s.setRetentionPolicy},
		// After /notifications/policy, which would otherwise match :id.
		{"GET", v1 + "/notifications/:id", accounts.ReadNotifications, s.getNotification},
		{"POST", v1 + "/loans/:id/reminders", accounts.SendReminders, s.remindNow},
		{"POST", v1 + "/sms/inbound", Public, s.smsInbound},

		{"GET", v1 + "/agreement/terms", accounts.ManageLoans, s.currentTerms},
		{"PUT", v1 + "/agreement/terms", accounts.ManageAgreements, s.saveTerms},
		{"GET", v1 + "/agreement/terms/versions/:language/:version", accounts.ManageLoans, s.termsVersion},
	}
}

func (s *Server) assignRequestID(c *fiber.Ctx) error {
	if requestID(c) != "" { // a replay's second pass
		return c.Next()
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	c.Locals("request_id", id)
	c.Set("X-Request-Id", id)
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("request_id").(string)
	return id
}

//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Type("json")
	return c.Send(openAPIDoc)
}

// version is the build's version, which /healthz tells, so that an
// operator sees which build each instance runs.
var version = buildinfo.Read().Version

func (s *Server) health(c *fiber.Ctx) error {
	status, code := "ok", fiber.StatusOK
	if err := s.svc.DB.PingContext(c.UserContext()); err != nil {
		status, code = "database unreachable", fiber.StatusServiceUnavailable
	}
	return c.Status(code).JSON(fiber.Map{"status": status, "database": s.svc.DB.Engine, "version": version})
}
