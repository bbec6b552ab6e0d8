package app_test

import "github.com/devicebank/devicebank/apperr"

func apperrIs(err error, code string) bool { return apperr.Is(err, apperr.Code(code)) }
