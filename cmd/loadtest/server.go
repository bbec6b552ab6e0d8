package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is `devicebank serve` running as a subprocess.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	logPath string
	exited  chan struct{} // closed when the process has ended
	once    sync.Once
}

// listeningRe finds the address in the line serve prints once it listens.
var listeningRe = regexp.MustCompile(`DeviceBank is listening on (\S+) `)

// startServer runs `bin serve` on dbURL, on a free port of 127.0.0.1 with
// every schedule off (so that no sweep or dispatch runs during a
// measurement), and returns once /healthz answers. Its output goes to
// logPath. The server inherits the environment, so DEVICEBANK_* settings
// apply to it; dataKey, unless "", is its DEVICEBANK_DATA_KEY.
func startServer(ctx context.Context, bin, dbURL, dataKey, logPath string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--database-url", dbURL, "--addr", "127.0.0.1:0",
		"--sweep-schedule", "off", "--dispatch-schedule", "off", "--digest-schedule", "off", "--report-schedule", "off")
	cmd.Stderr = logFile
	if dataKey != "" {
		cmd.Env = append(os.Environ(), "DEVICEBANK_DATA_KEY="+dataKey)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &server{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go s.readStdout(stdout, logFile, addr)
	go func() {
		cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	if err := s.await(ctx, addr); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// readStdout copies serve's standard output to the log and sends the
// address it listens on, once.
func (s *server) readStdout(stdout io.Reader, log io.Writer, addr chan<- string) {
	sc := bufio.NewScanner(stdout)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		if m := listeningRe.FindStringSubmatch(line); m != nil && !sent {
			addr <- m[1]
			sent = true
		}
	}
}

// await waits for the address serve listens on, then for /healthz to
// answer 200.
func (s *server) await(ctx context.Context, addr <-chan string) error {
	timeout := time.After(60 * time.Second)
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.exited:
		return fmt.Errorf("the server ended before listening:\n%s", s.logTail())
	case <-timeout:
		return fmt.Errorf("the server did not listen within a minute:\n%s", s.logTail())
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the server ended before /healthz answered:\n%s", s.logTail())
		case <-timeout:
			return fmt.Errorf("/healthz did not answer 200 within a minute:\n%s", s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop asks the server to shut down (SIGTERM, as an operator would) and
// kills it if it has not ended after ten seconds. It may be called again.
func (s *server) stop() {
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// memory reads the server's resident memory now and at its peak.
func (s *server) memory() (memory, error) {
	select {
	case <-s.exited:
		return memory{}, fmt.Errorf("the server has ended:\n%s", s.logTail())
	default:
	}
	return processMemory(s.cmd.Process.Pid)
}

// logTail is the end of the server's log, to explain a failure.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// memory is a process's resident set size now (of it, anonymous and
// file-backed pages) and its high-water mark, in MiB.
type memory struct {
	rssMiB, anonMiB, fileMiB, hwmMiB float64
}

// parseProcStatus reads VmRSS, RssAnon, RssFile and VmHWM from the text of
// /proc/PID/status.
func parseProcStatus(status string) (memory, error) {
	var m memory
	fields := map[string]*float64{"VmRSS:": &m.rssMiB, "RssAnon:": &m.anonMiB, "RssFile:": &m.fileMiB, "VmHWM:": &m.hwmMiB}
	found := 0
	for _, line := range strings.Split(status, "\n") {
		name, value, ok := strings.Cut(line, "\t")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		var kB float64
		if _, err := fmt.Sscanf(strings.TrimSpace(value), "%f kB", &kB); err != nil {
			return m, fmt.Errorf("read %q: %w", line, err)
		}
		*dst = kB / 1024
		found++
	}
	if found != len(fields) {
		return m, errors.New("no VmRSS, RssAnon, RssFile and VmHWM in the process status")
	}
	return m, nil
}
