package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/devicebank/devicebank/apperr"
)

// describe turns an apperr into one readable line for the terminal.
func describe(err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Fields) == 0 {
		return err
	}
	keys := make([]string, 0, len(ae.Fields))
	for k := range ae.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("--%s %s", strings.ReplaceAll(k, "_", "-"), ae.Fields[k])
	}
	return errors.New(strings.Join(parts, "; "))
}
