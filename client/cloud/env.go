package cloud

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"go.yaml.in/yaml/v2"
)

// EnvCloudName is the name of the cloud configured by environment variables alone.
const EnvCloudName = "env"

// ErrNoEnvCloud says that no environment variable configures a cloud.
var ErrNoEnvCloud = errors.New("no cloud configured: choose a clouds.yaml entry with --cloud or OS_CLOUD, or set OS_AUTH_URL (Keystone), OS_AUTH_TOKEN with OS_COMPUTE_ENDPOINT_OVERRIDE, or HUAWEICLOUD_SDK_AK (Huawei AK/SK)")

// LoadEnvCloud builds the cloud configuration from environment variables alone, for when
// no clouds.yaml entry is chosen: HUAWEICLOUD_SDK_AK (AK/SK), else
// OS_APPLICATION_CREDENTIAL_ID/NAME, else OS_AUTH_TOKEN, else OS_AUTH_URL (password).
func LoadEnvCloud(defaultImageAPI string) (*Config, error) {
	authType, keys := envAuthType()
	if keys == nil {
		return nil, ErrNoEnvCloud
	}
	doc, err := yaml.Marshal(map[string]any{"clouds": map[string]any{EnvCloudName: nest(keys)}})
	if err != nil {
		return nil, err
	}
	var parsed struct {
		Clouds map[string]entry `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(doc, &parsed); err != nil {
		return nil, err
	}
	authOptions, endpoint, tlsConfig, err := parseClouds(clouds.WithCloudName(EnvCloudName), clouds.WithCloudsYAML(bytes.NewReader(doc)))
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	cfg := newCloudConfig(EnvCloudName, "environment", parsed.Clouds[EnvCloudName], authOptions, endpoint, tlsConfig, defaultImageAPI)
	if err := cfg.check(authType.variable); err != nil {
		return nil, fmt.Errorf("environment (no --cloud/OS_CLOUD): %w", err)
	}
	cfg.Fingerprint = fingerprint(keys, tlsFileDigests(parsed.Clouds[EnvCloudName].TLSFiles))
	return cfg, nil
}

// nest turns dotted keys ("auth.username") into the nested maps of a clouds.yaml entry.
func nest(keys map[string]string) map[string]any {
	out := map[string]any{}
	auth := map[string]any{}
	for k, v := range keys {
		if inner, ok := strings.CutPrefix(k, "auth."); ok {
			auth[inner] = v
		} else {
			out[k] = v
		}
	}
	out["auth"] = auth
	return out
}
