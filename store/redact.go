package store

import (
	"net/url"
	"os"
	"strings"
)

// Redacted replaces every secret in output and error messages.
const Redacted = "REDACTED"

// secretParam reports whether a URL query parameter may carry a secret:
// SAS signatures (sig), tokens, keys, passwords, credentials. Harmless
// parameters that merely look alike (kmskeyid) are redacted too.
func secretParam(name string) bool {
	n := strings.ToLower(name)
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
			if secretParam(k) {
				for i := range vs {
					vs[i] = Redacted
				}
				changed = true
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
		if secretParam(k) {
			out = append(out, vs...)
		}
	}
	return out
}

// scrub replaces each secret (and its URL-escaped forms) in s, as well as
// secrets held in well-known environment variables. Secrets shorter than 4
// bytes are ignored: replacing them would garble messages without hiding much.
func scrub(s string, secrets []string) string {
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
	for _, sec := range all {
		if len(sec) < 4 {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, Redacted)
		}
	}
	return s
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
