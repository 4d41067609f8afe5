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
	"bytes"
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

// proof is a proof document of PROTOCOL.md §4.1: hashes in lowercase
// hex, the checkpoint it proves against carried as a signed note.
type proof struct {
	Type       string   `json:"type"`
	Origin     string   `json:"origin"`
	Index      int64    `json:"index"`
	LeafHash   string   `json:"leaf_hash"`
	OldSize    int64    `json:"old_size"`
	OldRoot    string   `json:"old_root"`
	TreeSize   int64    `json:"tree_size"`
	Root       string   `json:"root"`
	Hashes     []string `json:"hashes"`
	Checkpoint *string  `json:"checkpoint"`
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

// hexHash reads a proof document's hash: exactly 64 lowercase hex digits.
func hexHash(text string) (tlog.Hash, error) {
	var h tlog.Hash
	if len(text) != 64 || strings.ToLower(text) != text {
		return h, fmt.Errorf("%q is not 64 lowercase hex digits", text)
	}
	raw, err := hex.DecodeString(text)
	if err != nil {
		return h, err
	}
	copy(h[:], raw)
	return h, nil
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for _, s := range list {
		h, err := hexHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// openCheckpoint verifies the note in file `name` with the log's verifier
// key and reads origin, size and root from its text.
func openCheckpoint(dir, name, vkey string) (checkpoint, error) {
	msg, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return checkpoint{}, err
	}
	return openNote(msg, vkey)
}

// openNote verifies a checkpoint note's signature with the log's verifier
// key and reads origin, size and root from its text (the C2SP checkpoint
// body).
func openNote(msg []byte, vkey string) (checkpoint, error) {
	var cp checkpoint
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

// readProof reads a proof document of the given type, refusing unknown
// fields, and checks that it is for the verified checkpoint `cp`: same
// origin and tree, and the note it carries opens under the log's key and
// states the same tree.
func readProof(dir, name, kind, vkey string, cp checkpoint) (proof, error) {
	var p proof
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return p, err
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&p); err != nil {
		return p, err
	}
	if p.Type != kind {
		return p, fmt.Errorf("type %q, not %q", p.Type, kind)
	}
	root, err := hexHash(p.Root)
	if err != nil {
		return p, err
	}
	if p.Origin != cp.origin || p.TreeSize != cp.size || root != cp.root {
		return p, fmt.Errorf("proof is for %s size %d, checkpoint for %s size %d", p.Origin, p.TreeSize, cp.origin, cp.size)
	}
	if p.Checkpoint == nil {
		return p, errors.New("proof carries no checkpoint")
	}
	carried, err := openNote([]byte(*p.Checkpoint), vkey)
	if err != nil {
		return p, err
	}
	if carried != cp {
		return p, errors.New("the carried checkpoint states another tree")
	}
	return p, nil
}

func checkInclusion(dir, name, vkey string, cp checkpoint) error {
	p, err := readProof(dir, name, "inclusion", vkey, cp)
	if err != nil {
		return err
	}
	leaf, err := hexHash(p.LeafHash)
	if err != nil {
		return err
	}
	proof, err := hashes(p.Hashes)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), cp.size, cp.root, p.Index, leaf)
}

func checkConsistency(dir, name, vkey string, cp checkpoint) error {
	p, err := readProof(dir, name, "consistency", vkey, cp)
	if err != nil {
		return err
	}
	oldRoot, err := hexHash(p.OldRoot)
	if err != nil {
		return err
	}
	proof, err := hashes(p.Hashes)
	if err != nil {
		return err
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
	report("inclusion proof (sumdb/tlog CheckRecord)", checkInclusion(dir, "inclusion.json", vkey, cp), true)
	report("tampered inclusion proof", checkInclusion(dir, "tampered-inclusion.json", vkey, cp), false)
	report("inclusion proof for another index", checkInclusion(dir, "tampered-inclusion-index.json", vkey, cp), false)
	report("consistency proof (sumdb/tlog CheckTree)", checkConsistency(dir, "consistency.json", vkey, cp), true)
	report("tampered consistency proof", checkConsistency(dir, "tampered-consistency.json", vkey, cp), false)
	checkSignatures(dir, report)
	fmt.Printf("interop: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
