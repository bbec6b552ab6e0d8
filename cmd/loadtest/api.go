package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient calls the server's API over keep-alive connections, enough
// idle ones for every concurrent client, so that no measurement pays for
// opening connections.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string, clients int) *apiClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = clients
	t.MaxIdleConnsPerHost = clients
	return &apiClient{base: base, http: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// get reads path with token; any status but 2xx is an error.
func (c *apiClient) get(ctx context.Context, token, path string) error {
	return c.do(ctx, http.MethodGet, path, token, nil, nil)
}

// do sends body (if any) as JSON and decodes the answer into out (if
// any); any status but 2xx is an error naming the request and the answer.
func (c *apiClient) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The path alone: the answer may name the record, never a client's details.
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	// Read to the end, so that the connection is reused.
	_, err = io.Copy(io.Discard, resp.Body)
	return err
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
	if err := c.do(ctx, http.MethodPost, "/api/v1/loans", w.Token, issue, &loan); err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/loans/%d/return", loan.ID), w.Token,
		map[string]any{"condition": "good"}, nil); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/devices/%d/inspection", w.DeviceID), w.Token,
		map[string]any{"wiped": true, "outcome": "ready"}, nil)
}

// checkOverdue makes sure the overdue page lists the seeded overdue
// loans, so that the workload measures what it says.
func (c *apiClient) checkOverdue(ctx context.Context, token string, want int) error {
	var page struct {
		Total int `json:"total"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/loans?status=overdue", token, nil, &page); err != nil {
		return err
	}
	if page.Total != want {
		return fmt.Errorf("the server lists %d overdue loans, where %d were seeded", page.Total, want)
	}
	return nil
}
