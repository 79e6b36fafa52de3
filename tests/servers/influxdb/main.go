// Command influxd is the InfluxDB 2.7 OSS server, built from its Go module for the
// kgtwin integration tests. Only the server command is kept: the tests never use
// influxd's upgrade, inspect, recovery or downgrade subcommands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/influxdata/influxdb/v2"
	"github.com/influxdata/influxdb/v2/cmd/influxd/launcher"
	// The storage engine and index register themselves on import; without them
	// the launcher has nothing to write to.
	_ "github.com/influxdata/influxdb/v2/tsdb/engine/tsm1"
	_ "github.com/influxdata/influxdb/v2/tsdb/index/tsi1"
	"github.com/spf13/viper"
)

func main() {
	// /health and the X-Influxdb-Version header report this; take it from go.mod
	// so it cannot drift from the version actually linked.
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/influxdata/influxdb/v2" {
				influxdb.SetBuildInfo(dep.Version, "kgtwin-test", "")
			}
		}
	}

	// influxd shuts down cleanly only on SIGINT; SIGTERM, which the test harness and
	// most supervisors send, would kill it on the spot. Treat SIGTERM as SIGINT.
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		for range terms {
			_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		}
	}()

	cmd, err := launcher.NewInfluxdCommand(context.Background(), viper.New())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd.SilenceUsage = true
	if err := cmd.Execute(); err != nil {
		os.Exit(1) // cobra has already printed the error
	}
}
