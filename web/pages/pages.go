// Package pages is DeviceBank's web pages for staff: server-rendered HTML
// (html/template) beside the JSON API, in the same Fiber app, with the
// templates and the one stylesheet embedded in the binary. It holds the
// base every page stands on: the layout (landmarks, skip link, a nav by
// role, the error summary), the form-field and pager components, browser
// sessions, CSRF protection and the security headers of HTML answers.
//
// A page is authorized by the same code as the API: the session gives an
// *accounts.Actor, a route names the accounts.Permission it needs, and the
// domain services decide which rows the actor reaches.
package pages

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the pages need from the server around them.
type Config struct {
	Services *app.Services
	Logger   *slog.Logger
	// ClientAddress is the client a request came from, as the sign-in
	// throttle counts clients (the server's trusted-proxy rules).
	ClientAddress func(*fiber.Ctx) string
	// Secure reports whether the browser reached the server over TLS
	// (itself, or a trusted proxy that says so): cookies are then Secure.
	Secure func(*fiber.Ctx) bool
	// SignInLimit are the handlers that limit failed sign-ins per client
	// address, shared with POST /api/v1/auth/token so that both count
	// against one limit.
	SignInLimit []fiber.Handler
	// SignInFailed, when set, is told of each sign-in the accounts service
	// refused (the metrics).
	SignInFailed func(error)
}

// Pages serves the web pages.
type Pages struct {
	cfg   Config
	svc   *app.Services
	log   *slog.Logger
	pages map[string]*template.Template
	// static are the embedded assets by name, with their content type and
	// a version (a hash of the content) that their URLs carry, so that a
	// browser may keep them and still never uses an old one.
	static map[string]asset
}

type asset struct {
	body        []byte
	contentType string
	version     string
}

// Route is one page, like the API's routes: the permission it needs ("" any
// signed-in user; Public none at all).
type Route struct {
	Method     string
	Path       string
	Permission accounts.Permission
	handler    fiber.Handler
}

// Public marks pages that need no sign-in.
const Public accounts.Permission = "public"

// New loads the templates and assets; a template that does not parse is a
// programming error, so it panics.
func New(cfg Config) *Pages {
	p := &Pages{cfg: cfg, svc: cfg.Services, log: cfg.Logger, pages: map[string]*template.Template{}, static: map[string]asset{}}
	if p.log == nil {
		p.log = slog.Default()
	}
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		p.static[path.Base(name)] = asset{body: b, contentType: mime.TypeByExtension(path.Ext(name)), version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic(err)
	}
	base := template.Must(template.New("").Funcs(p.funcs()).ParseFS(templateFS, "templates/_*.html"))
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, name := range names {
		page := path.Base(name)
		if strings.HasPrefix(page, "_") {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, name))
		p.pages[strings.TrimSuffix(page, ".html")] = t
	}
	return p
}

// Routes are the pages. Client details never go in a query string (those
// reach logs and browser history): a search is posted.
func (p *Pages) Routes() []Route {
	routes := []Route{
		{"GET", "/", Public, p.home}, // signed out: to /login
		{"GET", "/login", Public, p.loginForm},
		{"POST", "/login", Public, p.login},
		{"POST", "/logout", "", p.logout},
		{"GET", "/password", "", p.passwordForm},
		{"POST", "/password", "", p.changePassword},
		{"GET", "/users", accounts.ManageUsers, p.users},
		{"GET", "/reports", accounts.ReadReports, p.reportsForm},
		{"POST", "/reports", accounts.ReadReports, p.report}, // posted: a postal prefix may say where clients live
		{"POST", "/reports.csv", accounts.ReadReports, p.reportCSV},
		{"POST", "/reports.pdf", accounts.ReadReports, p.reportPDF},
	}
	routes = append(routes, p.socialRoutes()...)
	routes = append(routes, p.loanRoutes()...)
	routes = append(routes, p.requestRoutes()...)
	routes = append(routes, p.deskRoutes()...)
	routes = append(routes, p.adminRoutes()...)
	routes = append(routes, p.notificationRoutes()...)
	return routes
}

// Mount adds the pages and their assets to app. Every page answer passes
// through the security headers, the session, the route's permission (so
// that a form posted after the session ended asks to sign in again) and,
// for a form, the CSRF check, in that order.
func (p *Pages) Mount(app *fiber.App) {
	app.Get("/static/:name", p.asset)
	for _, r := range p.Routes() {
		handlers := []fiber.Handler{withPageHeaders, p.session}
		if r.Permission != Public {
			handlers = append(handlers, require(r.Permission))
		}
		handlers = append(handlers, p.checkCSRF, checkText)
		if r.Method == fiber.MethodPost && r.Path == "/login" {
			handlers = append(handlers, p.cfg.SignInLimit...)
		}
		app.Add(r.Method, r.Path, append(handlers, r.handler)...)
	}
}

// IsPage reports whether method and path are one of the pages or their
// assets, for the OpenAPI test, which leaves them out of the API.
func (p *Pages) IsPage(method, routePath string) bool {
	if method == fiber.MethodGet && routePath == "/static/:name" {
		return true
	}
	for _, r := range p.Routes() {
		if r.Method == method && r.Path == routePath {
			return true
		}
	}
	return false
}

func (p *Pages) asset(c *fiber.Ctx) error {
	a, ok := p.static[c.Params("name")]
	if !ok {
		return fiber.ErrNotFound
	}
	// The URL carries the content's version: a browser may keep it.
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderContentType, a.contentType)
	return c.Send(a.body)
}

// assetURL is the URL of an embedded asset, with its version.
func (p *Pages) assetURL(name string) string {
	a, ok := p.static[name]
	if !ok {
		panic("no asset " + name)
	}
	return "/static/" + name + "?v=" + a.version
}
