//go:build !linux

package main

import (
	"errors"
	"os/exec"
)

func setParentDeathSignal(*exec.Cmd) {}

// processMemory needs /proc, which only Linux has.
func processMemory(int) (memory, error) {
	return memory{}, errors.New("the server's memory is read from /proc: loadtest runs on Linux")
}

func loadAverage() (float64, error) {
	return 0, errors.New("the load average is read from /proc: loadtest runs on Linux")
}
