// Command verify checks Concord's checkpoints, proofs and entry signatures
// with code Concord did not write: golang.org/x/mod/sumdb/note verifies the
// signed checkpoint, golang.org/x/mod/sumdb/tlog the RFC 6962 proofs,
// crypto/ed25519 the entry signatures (cofactorless), and
// filippo.io/edwards25519 the cofactored equation of PROTOCOL.md §3.2. Every
// good item must verify and every tampered copy must be refused.
//
// Usage: GOPATH=/usr/share/gocode GO111MODULE=off go run interop/verify.go DIR
package main

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"filippo.io/edwards25519"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type signatures struct {
	Domain    []byte `json:"domain"`
	PublicKey []byte `json:"public_key"`
	Entries   []struct {
		Header    []byte `json:"header"`
		Signature string `json:"signature"`
	} `json:"entries"`
	Edges []struct {
		Name         string `json:"name"`
		Signature    string `json:"signature"`
		Cofactored   bool   `json:"cofactored"`
		Cofactorless bool   `json:"cofactorless"`
	} `json:"edges"`
}

// cofactored checks [8]([S]B - R - [k]A) = 0 with S canonical, as
// PROTOCOL.md §3.2 states it, on filippo.io/edwards25519's arithmetic.
func cofactored(publicKey, message, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	a, err := new(edwards25519.Point).SetBytes(publicKey)
	if err != nil {
		return false
	}
	r, err := new(edwards25519.Point).SetBytes(sig[:32])
	if err != nil {
		return false
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(publicKey)
	h.Write(message)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		return false
	}
	minusA := new(edwards25519.Point).Negate(a)
	check := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, minusA, s)
	check.Subtract(check, r)
	check.MultByCofactor(check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

// checkSignatures verifies every entry signature with both equations and
// each edge case with the verdicts PROTOCOL.md gives it.
func checkSignatures(dir string, report func(string, error, bool)) {
	var cases signatures
	raw, err := os.ReadFile(filepath.Join(dir, "signatures.json"))
	if err == nil {
		err = json.Unmarshal(raw, &cases)
	}
	if err != nil {
		report("entry signatures file", err, true)
		return
	}
	verdict := func(ok bool) error {
		if ok {
			return nil
		}
		return errors.New("signature refused")
	}
	badStd, badCofactored := 0, 0
	for _, e := range cases.Entries {
		sig, err := hex.DecodeString(e.Signature)
		if err != nil {
			report("entry signature hex", err, true)
			return
		}
		message := append(append([]byte{}, cases.Domain...), e.Header...)
		if !ed25519.Verify(cases.PublicKey, message, sig) {
			badStd++
		}
		if !cofactored(cases.PublicKey, message, sig) {
			badCofactored++
		}
	}
	n := len(cases.Entries)
	report(fmt.Sprintf("%d entry signatures (crypto/ed25519)", n), verdict(badStd == 0 && n > 0), true)
	report(fmt.Sprintf("%d entry signatures (cofactored)", n), verdict(badCofactored == 0 && n > 0), true)
	if n == 0 {
		return
	}
	message := append(append([]byte{}, cases.Domain...), cases.Entries[0].Header...)
	for _, edge := range cases.Edges {
		sig, err := hex.DecodeString(edge.Signature)
		if err != nil {
			report(edge.Name, err, true)
			continue
		}
		report(edge.Name+" (cofactored)", verdict(cofactored(cases.PublicKey, message, sig)), edge.Cofactored)
		report(edge.Name+" (crypto/ed25519)", verdict(ed25519.Verify(cases.PublicKey, message, sig)), edge.Cofactorless)
	}
}

type inclusion struct {
	Index  int64    `json:"index"`
	Size   int64    `json:"size"`
	Leaf   string   `json:"leaf"`
	Root   string   `json:"root"`
	Hashes []string `json:"hashes"`
}

type consistency struct {
	OldSize int64    `json:"old_size"`
	OldRoot string   `json:"old_root"`
	Size    int64    `json:"size"`
	Root    string   `json:"root"`
	Hashes  []string `json:"hashes"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func hash(b64 string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return h, err
	}
	if len(raw) != len(h) {
		return h, errors.New("hash is not 32 bytes")
	}
	copy(h[:], raw)
	return h, nil
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for _, s := range list {
		h, err := hash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// openCheckpoint verifies the note's signature with the log's verifier key
// and reads origin, size and root from its text (the C2SP checkpoint body).
func openCheckpoint(dir, name, vkey string) (checkpoint, error) {
	var cp checkpoint
	msg, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return cp, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return cp, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return cp, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return cp, errors.New("checkpoint text has fewer than three lines")
	}
	cp.origin = lines[0]
	if cp.size, err = strconv.ParseInt(lines[1], 10, 64); err != nil {
		return cp, err
	}
	if cp.root, err = hash(lines[2]); err != nil {
		return cp, err
	}
	if cp.origin != verifier.Name() {
		return cp, fmt.Errorf("origin %q is not the key name %q", cp.origin, verifier.Name())
	}
	return cp, nil
}

func checkInclusion(dir, name string, cp checkpoint) error {
	var p inclusion
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	leaf, err := hash(p.Leaf)
	if err != nil {
		return err
	}
	proof, err := hashes(p.Hashes)
	if err != nil {
		return err
	}
	if p.Size != cp.size {
		return fmt.Errorf("proof is for size %d, checkpoint for %d", p.Size, cp.size)
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), cp.size, cp.root, p.Index, leaf)
}

func checkConsistency(dir, name string, cp checkpoint) error {
	var p consistency
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	oldRoot, err := hash(p.OldRoot)
	if err != nil {
		return err
	}
	proof, err := hashes(p.Hashes)
	if err != nil {
		return err
	}
	if p.Size != cp.size {
		return fmt.Errorf("proof is for size %d, checkpoint for %d", p.Size, cp.size)
	}
	return tlog.CheckTree(tlog.TreeProof(proof), cp.size, cp.root, p.OldSize, oldRoot)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verify DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	vkeyBytes, err := os.ReadFile(filepath.Join(dir, "vkey.txt"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	vkey := strings.TrimSpace(string(vkeyBytes))
	passed, failed := 0, 0
	report := func(what string, err error, wantOK bool) {
		ok := (err == nil) == wantOK
		verdict := "verified"
		if !wantOK {
			verdict = "refused"
		}
		if ok {
			passed++
			fmt.Printf("ok    %-44s %s\n", what, verdict)
		} else {
			failed++
			fmt.Printf("FAIL  %-44s err=%v\n", what, err)
		}
	}

	cp, cpErr := openCheckpoint(dir, "checkpoint.txt", vkey)
	report("checkpoint signature (sumdb/note)", cpErr, true)
	_, err = openCheckpoint(dir, "tampered-checkpoint.txt", vkey)
	report("tampered checkpoint", err, false)
	if cpErr != nil {
		// Without a verified checkpoint there is no root to check proofs against.
		fmt.Printf("interop: %d passed, %d failed\n", passed, failed)
		os.Exit(1)
	}
	report("inclusion proof (sumdb/tlog CheckRecord)", checkInclusion(dir, "inclusion.json", cp), true)
	report("tampered inclusion proof", checkInclusion(dir, "tampered-inclusion.json", cp), false)
	report("inclusion proof for another index", checkInclusion(dir, "tampered-inclusion-index.json", cp), false)
	report("consistency proof (sumdb/tlog CheckTree)", checkConsistency(dir, "consistency.json", cp), true)
	report("tampered consistency proof", checkConsistency(dir, "tampered-consistency.json", cp), false)
	checkSignatures(dir, report)
	fmt.Printf("interop: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
