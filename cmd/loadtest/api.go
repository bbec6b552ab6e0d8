package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// apiClient calls the server's API over keep-alive connections, one for
// every concurrent client, so that no measurement pays for opening
// connections. It is fasthttp's client rather than net/http's: the load
// generator shares the machine with the server and the database, as
// pgbench, a lean C client, does when it measures the ceiling, and
// net/http's client took 0.4 of a core at 4,200 reads a second where this
// one takes a third of that; the server measured is the same either way.
type apiClient struct {
	base string
	http *fasthttp.Client
}

func newAPIClient(base string, clients int) *apiClient {
	return &apiClient{base: base, http: &fasthttp.Client{
		MaxConnsPerHost:     clients,
		MaxIdleConnDuration: time.Minute,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		// The server's answers are read whole; headers are kept as sent.
		DisablePathNormalizing:        true,
		DisableHeaderNamesNormalizing: true,
	}}
}

// get reads path with token; any status but 2xx is an error.
func (c *apiClient) get(ctx context.Context, token, path string) error {
	return c.do(ctx, fasthttp.MethodGet, path, token, nil, nil)
}

// do sends body (if any) as JSON and decodes the answer into out (if
// any); any status but 2xx is an error naming the request and the answer.
// It waits at most until ctx ends.
func (c *apiClient) do(ctx context.Context, method, path, token string, body, out any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(method)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(b)
	}
	timeout := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.http.DoTimeout(req, resp, timeout); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code := resp.StatusCode(); code < 200 || code > 299 {
		// The path alone: the answer may name the record, never a client's details.
		msg := resp.Body()
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return fmt.Errorf("%s %s: %d %s: %s", method, path, code, fasthttp.StatusMessage(code), strings.TrimSpace(string(msg)))
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// loanRoundTrip lends w's device to w's client as a walk-in, takes it back
// and inspects it ready, which makes it available again for the next round
// trip (docs/api.md, steps 4 and 5). No Idempotency-Key is sent: each
// step is sent once.
func (c *apiClient) loanRoundTrip(ctx context.Context, w writer) error {
	var loan struct {
		ID int64 `json:"id"`
	}
	due := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	issue := map[string]any{"client_id": w.ClientID, "device_id": w.DeviceID, "due_on": due,
		"walk_in_justification": "load test round trip"}
	if err := c.do(ctx, fasthttp.MethodPost, "/api/v1/loans", w.Token, issue, &loan); err != nil {
		return err
	}
	if err := c.do(ctx, fasthttp.MethodPost, fmt.Sprintf("/api/v1/loans/%d/return", loan.ID), w.Token,
		map[string]any{"condition": "good"}, nil); err != nil {
		return err
	}
	return c.do(ctx, fasthttp.MethodPost, fmt.Sprintf("/api/v1/devices/%d/inspection", w.DeviceID), w.Token,
		map[string]any{"wiped": true, "outcome": "ready"}, nil)
}

// checkOverdue makes sure the overdue page lists the seeded overdue
// loans, so that the workload measures what it says.
func (c *apiClient) checkOverdue(ctx context.Context, token string, want int) error {
	var page struct {
		Total int `json:"total"`
	}
	if err := c.do(ctx, fasthttp.MethodGet, "/api/v1/loans?status=overdue", token, nil, &page); err != nil {
		return err
	}
	if page.Total != want {
		return fmt.Errorf("the server lists %d overdue loans, where %d were seeded", page.Total, want)
	}
	return nil
}
