package store

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Redacted replaces every secret in output and error messages.
const Redacted = "REDACTED"

// secretParam reports whether a URL query parameter may carry a secret:
// SAS signatures (sig), tokens, keys, passwords, credentials. Harmless
// parameters that merely look alike (kmskeyid) are redacted too.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "max-keys", "key-marker", "keyprefix": // S3 listing parameters in drivers' messages
		return false
	}
	for _, s := range []string{"sig", "secret", "passw", "pwd", "token", "key", "credential", "auth", "sas"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// secretEnv names environment variables whose values are secrets that a
// driver might echo in an error.
var secretEnv = []string{
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
	"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGEBLOB_CONNECTIONSTRING",
	"GOOGLE_OAUTH_ACCESS_TOKEN",
}

// RedactURL returns raw with the password of its user info and the values of
// secret-looking query parameters replaced by REDACTED. Anything that does
// not parse as a URL with a scheme is returned unchanged (plain paths).
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		if i := strings.Index(raw, "://"); i > 0 {
			// Unparsable URL: keep only the scheme rather than risk a secret.
			return raw[:i+3] + Redacted
		}
		return raw
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Redacted)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = Redacted
			return u.String()
		}
		changed := false
		for k, vs := range q {
			for i, v := range vs {
				switch {
				case secretParam(k):
					vs[i], changed = Redacted, true
				case strings.Contains(v, "://"):
					// A URL inside a parameter (endpoint=http://user:pass@host)
					// has its own secrets.
					if r := RedactURL(v); r != v {
						vs[i], changed = r, true
					}
				}
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// urlSecrets lists the secret strings of raw (user password, secret query
// values), each also in its escaped forms, for scrubbing error messages.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		for _, v := range vs {
			switch {
			case secretParam(k):
				out = append(out, v)
			case strings.Contains(v, "://"):
				out = append(out, urlSecrets(v)...)
			}
		}
	}
	return out
}

// Redact removes from msg the secrets of the given location references
// (URL passwords, secret query values, those of URLs nested in query
// values, each in its escaped forms) and of the well-known credential
// environment variables, and redacts every URL it finds in msg. Use it on
// any message that may repeat what the user typed.
func Redact(msg string, refs ...string) string {
	var secrets []string
	for _, r := range refs {
		secrets = append(secrets, urlSecrets(r)...)
	}
	return scrub(msg, secrets)
}

// RedactingWriter returns a writer that passes everything written through
// Redact with the given references (a command's arguments) before writing
// it to w: the one filter of a program's output and errors. Each Write is
// redacted on its own; callers write whole lines or documents.
func RedactingWriter(w io.Writer, refs ...string) io.Writer {
	var secrets []string
	for _, r := range refs {
		secrets = append(secrets, urlSecrets(r)...)
	}
	r := &redactingWriter{w: w, forms: secretForms(secrets)}
	for _, f := range r.forms {
		r.raw = append(r.raw, []byte(f))
	}
	return r
}

type redactingWriter struct {
	w     io.Writer
	forms []string // computed once: a report may be written in many pieces
	raw   [][]byte
}

// Unwrap returns the writer written to (to tell a terminal).
func (r *redactingWriter) Unwrap() io.Writer { return r.w }

func (r *redactingWriter) Write(p []byte) (int, error) {
	var err error
	if r.clean(p) {
		_, err = r.w.Write(p)
	} else {
		_, err = io.WriteString(r.w, scrubForms(string(p), r.forms))
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// clean reports that p holds no secret and no URL with user info or a
// query, so passes unchanged (the common case, checked without copying).
func (r *redactingWriter) clean(p []byte) bool {
	for _, f := range r.raw {
		if bytes.Contains(p, f) {
			return false
		}
	}
	return !bytes.Contains(p, []byte("://")) || !bytes.ContainsAny(p, "@?")
}

// redactURLs passes every whitespace-separated word of s that holds a URL
// with user info or a query through RedactURL.
func redactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	word := func(w string) string {
		i := strings.Index(w, "://")
		if i < 0 || !(strings.Contains(w, "@") || strings.Contains(w, "?")) {
			return w
		}
		// The URL starts at its scheme: letters back from "://".
		j := i
		for j > 0 && isSchemeChar(w[j-1]) {
			j--
		}
		end := len(w)
		if k := strings.IndexAny(w[i:], `"'`); k >= 0 { // the end of a quoted URL
			end = i + k
		}
		for end > i && strings.ContainsRune(`,;:.)]}`, rune(w[end-1])) {
			end--
		}
		u := w[j:end]
		const amp = `\u0026` // JSON's escape of "&"
		esc := strings.Contains(u, amp)
		u = RedactURL(strings.ReplaceAll(u, amp, "&"))
		if esc {
			u = strings.ReplaceAll(u, "&", amp)
		}
		return w[:j] + u + w[end:]
	}
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\n' || s[i] == '\t' {
			if start >= 0 {
				b.WriteString(word(s[start:i]))
				start = -1
			}
			if i < len(s) {
				b.WriteByte(s[i])
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return b.String()
}

func isSchemeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// scrub replaces each secret (and its URL-escaped forms) in s, as well as
// secrets held in well-known environment variables. Secrets shorter than 4
// bytes are ignored: replacing them would garble messages without hiding much.
func scrub(s string, secrets []string) string { return scrubForms(s, secretForms(secrets)) }

// secretForms lists what scrub replaces: the secrets given and those of the
// credential environment variables, each in its URL-escaped forms.
func secretForms(secrets []string) []string {
	all := append([]string(nil), secrets...)
	for _, name := range secretEnv {
		if v := os.Getenv(name); v != "" {
			all = append(all, v)
			if strings.Contains(name, "CONNECTION") || strings.Contains(name, "SAS") {
				// Parts of a connection string or SAS token may appear alone.
				for part := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ';' || r == '&' }) {
					if k, val, ok := strings.Cut(part, "="); ok && secretParam(k) {
						all = append(all, val)
						if uv, err := url.QueryUnescape(val); err == nil {
							all = append(all, uv)
						}
					}
				}
			}
		}
	}
	var forms []string
	for _, sec := range all {
		if len(sec) < 4 {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if !slices.Contains(forms, form) {
				forms = append(forms, form)
			}
		}
	}
	return forms
}

func scrubForms(s string, forms []string) string {
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, Redacted)
	}
	return redactURLs(s)
}

// redactedError carries a message with secrets removed. Unwrap keeps
// errors.Is/As working (gcerrors.Code, context.Canceled); only Error() is
// meant to be shown.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
