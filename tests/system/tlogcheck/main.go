// tlogcheck: an independent verifier of what cordon writes, built on Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (Debian's
// golang-golang-x-mod-dev, built offline in GOPATH mode by the test).
//
//	tlogcheck note VKEY CHECKPOINTS        each checkpoint's signature
//	tlogcheck tree SIZE ROOT LOG...        the tree hash of the first SIZE lines
//	tlogcheck inclusion PROOF.json         an inclusion proof from cordon audit prove
//	tlogcheck consistency PROOF.json       a consistency proof
//
// Prints "ok ..." and exits 0, or prints why and exits 1.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, a ...interface{}) {
	fmt.Printf(format+"\n", a...)
	os.Exit(1)
}

type hashes []tlog.Hash

func (h hashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(h)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = h[x]
	}
	return out, nil
}

func lines(files []string) [][]byte {
	var out [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			fail("%v", err)
		}
		var r io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			if r, err = gzip.NewReader(fh); err != nil {
				fail("%s: %v", f, err)
			}
		}
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			out = append(out, append([]byte(nil), s.Bytes()...))
		}
		fh.Close()
	}
	return out
}

func stored(ls [][]byte) hashes {
	var h hashes
	for i, l := range ls {
		more, err := tlog.StoredHashes(int64(i), l, h)
		if err != nil {
			fail("%v", err)
		}
		h = append(h, more...)
	}
	return h
}

func b64hash(s string) tlog.Hash {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(h) {
		fail("bad hash %q", s)
	}
	copy(h[:], b)
	return h
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: tlogcheck note|tree|inclusion|consistency ...")
	}
	switch os.Args[1] {
	case "note":
		v, err := note.NewVerifier(os.Args[2])
		if err != nil {
			fail("vkey: %v", err)
		}
		data, err := os.ReadFile(os.Args[3])
		if err != nil {
			fail("%v", err)
		}
		n := 0
		for _, ln := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var cp struct {
				Size int64  `json:"size"`
				Note string `json:"note"`
			}
			if err := json.Unmarshal([]byte(ln), &cp); err != nil {
				fail("checkpoint line: %v", err)
			}
			msg, err := note.Open([]byte(cp.Note), note.VerifierList(v))
			if err != nil {
				fail("note: %v", err)
			}
			f := strings.Split(msg.Text, "\n")
			if len(f) < 4 || f[1] != strconv.FormatInt(cp.Size, 10) {
				fail("checkpoint text %q does not say size %d", msg.Text, cp.Size)
			}
			n++
			fmt.Printf("checkpoint %s %s %s\n", f[0], f[1], f[2])
		}
		fmt.Printf("ok %d notes\n", n)
	case "tree":
		size, _ := strconv.ParseInt(os.Args[2], 10, 64)
		want := b64hash(os.Args[3])
		ls := lines(os.Args[4:])
		if int64(len(ls)) < size {
			fail("the log holds %d lines, not %d", len(ls), size)
		}
		h := stored(ls[:size])
		th, err := tlog.TreeHash(size, h)
		if err != nil {
			fail("%v", err)
		}
		if th != want {
			fail("tree hash %v, the checkpoint says %v", th, want)
		}
		fmt.Printf("ok tree of %d\n", size)
	case "inclusion", "consistency":
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fail("%v", err)
		}
		var p struct {
			LeafIndex int64    `json:"leaf_index"`
			TreeSize  int64    `json:"tree_size"`
			OldSize   int64    `json:"old_size"`
			OldRoot   string   `json:"old_root"`
			Root      string   `json:"root"`
			Hashes    []string `json:"hashes"`
			Line      string   `json:"line"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			fail("%v", err)
		}
		var proof []tlog.Hash
		for _, s := range p.Hashes {
			proof = append(proof, b64hash(s))
		}
		if os.Args[1] == "inclusion" {
			err = tlog.CheckRecord(tlog.RecordProof(proof), p.TreeSize,
				b64hash(p.Root), p.LeafIndex, tlog.RecordHash([]byte(p.Line)))
		} else {
			err = tlog.CheckTree(tlog.TreeProof(proof), p.TreeSize,
				b64hash(p.Root), p.OldSize, b64hash(p.OldRoot))
		}
		if err != nil {
			fail("%s proof: %v", os.Args[1], err)
		}
		fmt.Printf("ok %s\n", os.Args[1])
	default:
		fail("unknown mode %s", os.Args[1])
	}
}
