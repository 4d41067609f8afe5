// Command verify checks Concord's checkpoints, proofs and entry signatures
// with code Concord did not write: golang.org/x/mod/sumdb/note verifies the
// signed checkpoint, golang.org/x/mod/sumdb/tlog the RFC 6962 proofs,
// crypto/ed25519 the entry signatures (cofactorless), and
// filippo.io/edwards25519 the cofactored equation of PROTOCOL.md §3.2, and
// crypto/ed25519 with encoding/json the end lines of bundles (PROTOCOL.md §9,
// both versions), rebuilding from the spec alone the digests each signs.
// Every good item must verify and every tampered copy must be refused.
//
// Usage: GOPATH=/usr/share/gocode GO111MODULE=off go run interop/verify.go DIR
// (DIR also holds the bundle vectors, *.bundle)
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
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

// bundleHead is what a bundle's end line check needs of its head.
type bundleHead struct {
	Exporter string   `json:"exporter"`
	Format   string   `json:"format"`
	Rosters  []string `json:"rosters"`
}

type lineDigest struct {
	Line   int64  `json:"line"`
	Sha256 string `json:"sha256"`
}

type sectionDigest struct {
	Checkpoints  string `json:"checkpoints"`
	Line         int64  `json:"line"`
	PayloadFlags string `json:"payload_flags"`
	Payloads     int64  `json:"payloads"`
}

type bundleEnd struct {
	Digests   []lineDigest     `json:"digests"`
	Lines     int64            `json:"lines"`
	Sections  *[]sectionDigest `json:"sections"`
	Signature string           `json:"signature"`
	Signer    struct {
		KeyID string `json:"key_id"`
		Name  string `json:"name"`
	} `json:"signer"`
}

// exporterKey finds the exporter's key of id keyID in the last roster of
// the head's chain (PROTOCOL.md §7: a file whose "roster" member is base64
// of the body). The roster's own signatures are not checked here.
func exporterKey(head bundleHead, keyID string) (ed25519.PublicKey, error) {
	if len(head.Rosters) == 0 {
		return nil, errors.New("no roster in the head")
	}
	file, err := base64.StdEncoding.Strict().DecodeString(head.Rosters[len(head.Rosters)-1])
	if err != nil {
		return nil, err
	}
	var signed struct {
		Roster string `json:"roster"`
	}
	if err := json.Unmarshal(file, &signed); err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.Strict().DecodeString(signed.Roster)
	if err != nil {
		return nil, err
	}
	var roster struct {
		Members []struct {
			Origin string `json:"origin"`
			Keys   []struct {
				Revoked bool   `json:"revoked"`
				Vkey    string `json:"vkey"`
			} `json:"keys"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &roster); err != nil {
		return nil, err
	}
	for _, m := range roster.Members {
		if m.Origin != head.Exporter {
			continue
		}
		for _, k := range m.Keys {
			parts := strings.Split(k.Vkey, "+")
			if k.Revoked || len(parts) != 3 || parts[1] != keyID {
				continue
			}
			raw, err := base64.StdEncoding.Strict().DecodeString(parts[2])
			if err != nil || len(raw) != 33 || raw[0] != 0x01 {
				return nil, fmt.Errorf("verifier key %q is not an Ed25519 key", k.Vkey)
			}
			// The key id: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ key).
			id := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
			if hex.EncodeToString(id[:4]) != keyID || parts[0] != head.Exporter {
				return nil, fmt.Errorf("verifier key %q does not match its key id", k.Vkey)
			}
			return ed25519.PublicKey(raw[1:]), nil
		}
	}
	return nil, fmt.Errorf("the roster has no key %s of %s", keyID, head.Exporter)
}

// canonicalWithout re-encodes a canonical JSON object without one member:
// encoding/json sorts map keys (byte order is UTF-16 order for these ASCII
// keys), writes no whitespace, and with UseNumber keeps integers as written.
func canonicalWithout(line string, member string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var object map[string]any
	if err := dec.Decode(&object); err != nil {
		return nil, err
	}
	delete(object, member)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(object); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// checkBundle verifies a bundle's end line as PROTOCOL.md §9 specifies:
// its signature by the exporter, the line count, the digests of the head,
// log and purge lines (v2: and equivocation lines) and, in v2, each log
// section's digest of its checkpoint lines, and which of its entry lines
// carry a payload.
func checkBundle(text string) error {
	if !strings.HasSuffix(text, "\n") {
		return errors.New("the last line has no newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 2 {
		return errors.New("no end line")
	}
	var head bundleHead
	if err := json.Unmarshal([]byte(lines[0]), &head); err != nil {
		return err
	}
	v2 := head.Format == "concord-bundle/v2"
	if !v2 && head.Format != "concord-bundle/v1" {
		return fmt.Errorf("unknown format %q", head.Format)
	}
	endText := lines[len(lines)-1]
	var end bundleEnd
	if err := json.Unmarshal([]byte(endText), &end); err != nil {
		return err
	}
	if end.Signer.Name != head.Exporter {
		return fmt.Errorf("signed by %s, exported by %s", end.Signer.Name, head.Exporter)
	}
	key, err := exporterKey(head, end.Signer.KeyID)
	if err != nil {
		return err
	}
	body, err := canonicalWithout(endText, "signature")
	if err != nil {
		return err
	}
	signature, err := base64.StdEncoding.Strict().DecodeString(end.Signature)
	if err != nil {
		return err
	}
	context := map[string]string{
		"concord-bundle/v1": "concord/bundle/v1\n",
		"concord-bundle/v2": "concord/bundle/v2\n",
	}[head.Format]
	if !ed25519.Verify(key, append([]byte(context), body...), signature) {
		return errors.New("the end line's signature does not verify")
	}
	if end.Lines != int64(len(lines)-1) {
		return fmt.Errorf("the end line counts %d lines, %d precede it", end.Lines, len(lines)-1)
	}
	var digests []lineDigest
	var sections []sectionDigest
	var checkpoints, flags []byte
	closeSection := func() {
		if len(sections) == 0 {
			return
		}
		last := &sections[len(sections)-1]
		cp, fl := sha256.Sum256(checkpoints), sha256.Sum256(flags)
		last.Checkpoints, last.PayloadFlags = hex.EncodeToString(cp[:]), hex.EncodeToString(fl[:])
	}
	for i, line := range lines[:len(lines)-1] {
		number := int64(i + 1)
		var object struct {
			Type  string                     `json:"type"`
			Entry map[string]json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal([]byte(line), &object); err != nil {
			return fmt.Errorf("line %d: %v", number, err)
		}
		digest := func() {
			sum := sha256.Sum256([]byte(line))
			digests = append(digests, lineDigest{number, hex.EncodeToString(sum[:])})
		}
		switch object.Type {
		case "bundle", "purge":
			digest()
		case "log":
			digest()
			closeSection()
			sections = append(sections, sectionDigest{Line: number})
			checkpoints, flags = nil, nil
		case "equivocation":
			if v2 {
				digest()
			}
		case "checkpoint":
			checkpoints = append(append(checkpoints, line...), '\n')
		case "entry":
			if _, ok := object.Entry["payload"]; ok {
				flags = append(flags, 1)
				if len(sections) > 0 {
					sections[len(sections)-1].Payloads++
				}
			} else {
				flags = append(flags, 0)
			}
		default:
			return fmt.Errorf("line %d: unknown type %q", number, object.Type)
		}
	}
	closeSection()
	sort.Slice(end.Digests, func(a, b int) bool { return end.Digests[a].Line < end.Digests[b].Line })
	if len(digests) != len(end.Digests) || (len(digests) > 0 && !reflect.DeepEqual(digests, end.Digests)) {
		return errors.New("the digests signed are not those of the lines present")
	}
	if !v2 {
		if end.Sections != nil {
			return errors.New("a v1 end line has no sections member")
		}
		return nil
	}
	if end.Sections == nil {
		return errors.New("a v2 end line lacks its sections member")
	}
	signed := *end.Sections
	if len(sections) != len(signed) || (len(sections) > 0 && !reflect.DeepEqual(sections, signed)) {
		return fmt.Errorf("the sections signed %v are not those present %v", signed, sections)
	}
	return nil
}

// checkBundles verifies every *.bundle in dir and refuses tampered copies:
// the first log line's size changed, and in a v2 bundle the first payload,
// or the first cosignature line of a checkpoint, removed.
func checkBundles(dir string, report func(string, error, bool)) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.bundle"))
	if len(paths) == 0 {
		report("bundle vectors", errors.New("no *.bundle in the directory"), true)
		return
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		name := filepath.Base(path)
		if err != nil {
			report(name, err, true)
			continue
		}
		text := string(raw)
		report(name+" end line", checkBundle(text), true)
		report(name+" with a log line changed", checkBundle(strings.Replace(text, `"size":1,"type":"log"`, `"size":2,"type":"log"`, 1)), false)
		if !strings.Contains(text, `"format":"concord-bundle/v2"`) {
			continue
		}
		payload := cut(text, `,"payload":"`, `"`)
		report(name+" without its payload", checkBundle(payload), false)
		cosignature := cut(text, `— pacific-alliance.concord/un1540 `, `\n`)
		report(name+" without its cosignature", checkBundle(cosignature), false)
	}
}

// cut removes from text its first span that starts with from and ends
// with the next until; text unchanged when there is none.
func cut(text, from, until string) string {
	at := strings.Index(text, from)
	if at < 0 {
		return text
	}
	rest := text[at+len(from):]
	end := strings.Index(rest, until)
	if end < 0 {
		return text
	}
	return text[:at] + rest[end+len(until):]
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
	checkBundles(dir, report)
	fmt.Printf("interop: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
