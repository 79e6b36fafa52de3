// Command etcd is etcd's server, built from go.etcd.io/etcd/server/v3 for the tests'
// Kubernetes API server (the etcd module that holds etcd's own main is not published).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
