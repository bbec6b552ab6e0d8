package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the server if this process
// dies without stopping it (killed, or a panic).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processMemory reads a process's memory from /proc/PID/status.
func processMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	return parseProcStatus(string(b))
}

// loadAverage is the machine's one-minute load average, to tell whether
// other work shared the machine with a measurement.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	var load float64
	_, err = fmt.Sscanf(string(b), "%f", &load)
	return load, err
}
