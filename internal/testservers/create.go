package testservers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CreateBucket creates the bucket (or container) name on s. gocloud has no
// bucket creation, so this uses each store's own client or API.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	switch s.Kind {
	case S3:
		c := s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://" + s.Addr),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(MinIOUser, MinIOPassword, ""),
		})
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		return err
	case GCS:
		body := strings.NewReader(fmt.Sprintf(`{"name":%q}`, name))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Addr+"/storage/v1/b?project=fsnap", body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
			return fmt.Errorf("fake-gcs-server: %s: %s", resp.Status, msg)
		}
		return nil
	default:
		cred, err := azblob.NewSharedKeyCredential(AzureAccount, AzureKey)
		if err != nil {
			return err
		}
		c, err := container.NewClientWithSharedKeyCredential("http://"+s.Addr+"/"+AzureAccount+"/"+name, cred, nil)
		if err != nil {
			return err
		}
		_, err = c.Create(ctx, nil)
		return err
	}
}
