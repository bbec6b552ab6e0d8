package reports

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
)

// One hidden cell in a breakdown whose total is shown takes the smallest
// shown cell that is not zero with it; two hidden cells protect each other;
// a hidden total needs nothing more.
func TestProtect(t *testing.T) {
	counts := func(ns ...int64) []*Figure {
		out := make([]*Figure, len(ns))
		for i, n := range ns {
			f := Count(n)
			if n >= 1 && n < MinPeople {
				f.Small = true
			}
			out[i] = &f
		}
		return out
	}
	texts := func(cells []*Figure) []string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = c.Text()
		}
		return out
	}
	for _, tc := range []struct {
		total int64
		cells []int64
		want  string
	}{
		{20, []int64{2, 0, 12, 6}, "[<5 0 12 suppressed]"},
		{20, []int64{0, 20}, "[0 20]"},
		{9, []int64{1, 8}, "[<5 suppressed]"},
		{12, []int64{2, 0, 0, 10}, "[<5 0 0 suppressed]"},
		// Two small cells whose sum the others leave free protect each
		// other; two that the total pins do not.
		{10, []int64{2, 3, 5}, "[<5 <5 5]"},
		{10, []int64{1, 0, 8, 0, 1, 0}, "[<5 0 suppressed 0 <5 0]"},
		// Hiding the next smallest is not enough when the total pins the
		// small one (1 + a cell of at least 5 = 6): more are hidden, ...
		{15, []int64{1, 0, 9, 5, 0, 0}, "[<5 0 suppressed suppressed 0 0]"},
		// ... and when none is left, all of them, "<5" too.
		{6, []int64{1, 5}, "[suppressed suppressed]"},
		// Two small cells adding up to the total: four ways to do it.
		{5, []int64{4, 1}, "[<5 <5]"},
	} {
		total := Count(tc.total)
		cells := counts(tc.cells...)
		protect(total, cells...)
		if got := texts(cells); fmtList(got) != tc.want {
			t.Errorf("total %d, cells %v: %s, want %s", tc.total, tc.cells, fmtList(got), tc.want)
		}
	}
	hiddenTotal := Figure{Value: 3, Integer: true, Small: true}
	cells := counts(3, 0)
	protect(hiddenTotal, cells...)
	if cells[1].Suppressed() {
		t.Error("a zero beside a hidden total was hidden")
	}
}

func fmtList(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

// The figures' JSON: numbers as numbers, suppressed ones as words.
func TestFigureJSON(t *testing.T) {
	for f, want := range map[Figure]string{Count(12): "12", Rate(0.83333): "0.8333", {Value: 3, Integer: true, Small: true}: `"<5"`,
		{Hidden: true}: `"suppressed"`, Rate(0): "0", Count(0): "0"} {
		b, err := json.Marshal(f)
		var got, expected any
		if err != nil || json.Unmarshal(b, &got) != nil || json.Unmarshal([]byte(want), &expected) != nil || got != expected {
			t.Errorf("%+v: %s %v, want %s", f, b, err, want)
		}
	}
}

// A third export while two run is asked to come back, and runs once one
// has ended.
func TestExportsAreBounded(t *testing.T) {
	for range MaxConcurrentExports {
		exports <- struct{}{}
	}
	s := &Service{}
	coordinator := &accounts.Actor{ID: 1, Role: accounts.Coordinator}
	err := s.Records(context.Background(), coordinator, Params{}, io.Discard)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Unavailable || ae.RetryAfter <= 0 {
		t.Errorf("a third export: %v", err)
	}
	for range MaxConcurrentExports {
		<-exports
	}
}
