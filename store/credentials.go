package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/s3blob"
)

// CredentialsError says, in one line and without secrets, that a store's
// credentials were not found (and where fsnap looked) or did not work.
// Commands print it alone, instead of the SDK's chain of wrapped errors.
type CredentialsError struct {
	msg string
	err error
}

func (e *CredentialsError) Error() string { return e.msg }
func (e *CredentialsError) Unwrap() error { return e.err }

// awsLookedFor is where the AWS SDK's default chain looks, in its order.
const awsLookedFor = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE in ~/.aws/credentials and ~/.aws/config " +
	"(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (EKS IRSA), " +
	"AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI (ECS, EKS Pod Identity), the EC2 instance metadata service"

// s3ClientParams are the URL parameters gocloud's s3blob handles itself;
// the others configure the AWS SDK (gocloud.dev/aws).
var s3ClientParams = []string{"ssetype", "kmskeyid", "accelerate", "disable_https", "use_path_style", "s3ForcePathStyle"}

// openS3Quiet opens an s3:// bucket as gocloud's URL opener does, with the
// SDK's logger silenced (it prints an IMDSv1 fallback warning on stderr
// wherever the instance metadata service refuses tokens), a default region
// for custom endpoints, and credential failures as one *CredentialsError.
func openS3Quiet(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	client := url.Values{}
	for _, k := range s3ClientParams {
		if q.Has(k) {
			client[k] = q[k]
			q.Del(k)
		}
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logging.Nop{}
	cfg.HTTPClient = httpClient()
	if cfg.Region == "" {
		if q.Get("endpoint") == "" && os.Getenv("AWS_ENDPOINT_URL") == "" && os.Getenv("AWS_ENDPOINT_URL_S3") == "" {
			return nil, fmt.Errorf("no AWS region: set AWS_REGION (or a profile's region) or add ?region=… to the URL")
		}
		cfg.Region = "us-east-1" // S3-compatible stores take any; MinIO's default
	}
	anon, _ := strconv.ParseBool(q.Get("anonymous"))
	if !anon && q.Get("role") == "" {
		// The same chain again, loaded with a silent logger: the one in
		// cfg logs to stderr from the instance metadata client it made.
		opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
		if p := q.Get("profile"); p != "" {
			opts = append(opts, config.WithSharedConfigProfile(p))
		}
		quiet, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, err
		}
		cfg.Credentials = &explainedCredentials{bucket: "s3://" + u.Host, p: quiet.Credentials}
	}
	var s3opts []func(*s3.Options)
	for k, set := range map[string]func(*s3.Options, bool){
		"accelerate":       func(o *s3.Options, v bool) { o.UseAccelerate = v },
		"disable_https":    func(o *s3.Options, v bool) { o.EndpointOptions.DisableHTTPS = v },
		"use_path_style":   func(o *s3.Options, v bool) { o.UsePathStyle = v },
		"s3ForcePathStyle": func(o *s3.Options, v bool) { o.UsePathStyle = v },
	} {
		if !client.Has(k) {
			continue
		}
		v, err := strconv.ParseBool(client.Get(k))
		if err != nil {
			return nil, fmt.Errorf("invalid value for %q: %v", k, err)
		}
		s3opts = append(s3opts, func(o *s3.Options) { set(o, v) })
	}
	o := &s3blob.Options{
		KMSEncryptionID:            client.Get("kmskeyid"),
		RequestChecksumCalculation: cfg.RequestChecksumCalculation,
	}
	if t := client.Get("ssetype"); t != "" {
		o.EncryptionType = types.ServerSideEncryption(t)
		if !slices.Contains(o.EncryptionType.Values(), o.EncryptionType) {
			return nil, fmt.Errorf("invalid value for ssetype: %q", t)
		}
	}
	return s3blob.OpenBucket(ctx, s3.NewFromConfig(cfg, s3opts...), u.Host, o)
}

// explainedCredentials turns a failure of the AWS credential chain into a
// *CredentialsError: "none found, looked for …" when no source is set up
// (the instance metadata service was the last resort), else the source
// that failed.
type explainedCredentials struct {
	bucket string
	p      aws.CredentialsProvider
}

func (c *explainedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	v, err := c.p.Retrieve(ctx)
	if err == nil || ctx.Err() != nil {
		return v, err
	}
	src := awsConfiguredSource()
	if src == "" {
		return v, &CredentialsError{err: err, msg: fmt.Sprintf(
			"%s: no AWS credentials found (looked for %s); for a public bucket add ?anonymous=true", c.bucket, awsLookedFor)}
	}
	return v, &CredentialsError{err: err, msg: fmt.Sprintf("%s: AWS credentials from %s did not work: %s",
		c.bucket, src, lastCause(err))}
}

// awsConfiguredSource names the first credential source the environment
// sets up, or "".
func awsConfiguredSource() string {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if os.Getenv(v) != "" {
			return v
		}
	}
	home, _ := os.UserHomeDir()
	for env, def := range map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, ".aws", "credentials"),
		"AWS_CONFIG_FILE":             filepath.Join(home, ".aws", "config"),
	} {
		f := os.Getenv(env)
		if f == "" {
			f = def
		}
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

// lastCause is the innermost message of err's chain, the part that says
// what went wrong without the layers of context above it.
func lastCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return strings.TrimSpace(err.Error())
		}
		err = next
	}
}

// azureLookedFor is where fsnap (gocloud, then azidentity's default chain)
// looks for Azure credentials, in its order.
const azureLookedFor = "AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, " +
	"AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, " +
	"AZURE_FEDERATED_TOKEN_FILE (AKS Workload Identity), a managed identity, `az login`"

// openAzure opens an azblob:// bucket as gocloud's URL opener does, reading
// the environment at each open (gocloud's default opener reads it once per
// process), with token failures of the default Azure credential chain
// turned into one *CredentialsError.
func openAzure(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	o := &azureblob.URLOpener{
		ServiceURLOptions: *azureblob.NewDefaultServiceURLOptions(),
		MakeClient: func(svc azureblob.ServiceURL, c azureblob.ContainerName) (*container.Client, error) {
			containerURL, err := url.JoinPath(string(svc), string(c))
			if err != nil {
				return nil, err
			}
			// As azureblob.NewDefaultClient chooses, with fsnap's transport
			// (timeouts) and a bound on each try.
			opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
				Transport: httpClient(),
				Retry:     policy.RetryOptions{MaxRetries: 3, TryTimeout: azureTryTimeout},
			}}
			account, key := os.Getenv("AZURE_STORAGE_ACCOUNT"), os.Getenv("AZURE_STORAGE_KEY")
			cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
			if cs == "" {
				cs = os.Getenv("AZURE_STORAGEBLOB_CONNECTIONSTRING")
			}
			switch {
			case account != "" && key != "":
				kc, err := azblob.NewSharedKeyCredential(account, key)
				if err != nil {
					return nil, fmt.Errorf("AZURE_STORAGE_KEY: %v", err)
				}
				return container.NewClientWithSharedKeyCredential(containerURL, kc, opts)
			case os.Getenv("AZURE_STORAGE_SAS_TOKEN") != "":
				return container.NewClientWithNoCredential(containerURL, opts) // the service URL carries the token
			case cs != "":
				return container.NewClientFromConnectionString(cs, string(c), opts)
			}
			cred, err := azidentity.NewDefaultAzureCredential(nil)
			if err != nil {
				return nil, &CredentialsError{err: err, msg: fmt.Sprintf("azblob://%s: no Azure credentials (%s)", c, lastCause(err))}
			}
			return container.NewClient(containerURL, &explainedAzureCredential{bucket: "azblob://" + string(c), c: cred}, opts)
		},
	}
	return o.OpenBucketURL(ctx, u)
}

// explainedAzureCredential is explainedCredentials for Azure.
type explainedAzureCredential struct {
	bucket string
	c      azcore.TokenCredential
}

func (c *explainedAzureCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	t, err := c.c.GetToken(ctx, o)
	if err == nil || ctx.Err() != nil {
		return t, err
	}
	for _, v := range []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE"} {
		if os.Getenv(v) != "" {
			first, _, _ := strings.Cut(err.Error(), "\n")
			return t, &CredentialsError{err: err, msg: fmt.Sprintf("%s: Azure credentials from %s did not work: %s", c.bucket, v, first)}
		}
	}
	return t, &CredentialsError{err: err, msg: fmt.Sprintf("%s: no Azure credentials found (looked for %s)", c.bucket, azureLookedFor)}
}
