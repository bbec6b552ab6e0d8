package app_test

import (
	"context"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/eligibility"
)

func apperrIs(err error, code string) bool { return apperr.Is(err, apperr.Code(code)) }

// refer has worker refer their client to the program, as a coordinator
// needs before serving them: the worker asks for a device of kind "other"
// (which no test takes in) for them.
func (f *fixture) refer(worker *accounts.Actor, client int64) {
	f.t.Helper()
	in := eligibility.RequestInput{ClientID: client, DeviceKind: "other", Reason: "referral"}
	if _, err := f.svc.Eligibility.FileRequest(context.Background(), worker, in); err != nil {
		f.t.Fatal(err)
	}
}
