package main

import (
	"github.com/gophercloud/gophercloud/v2"
	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
)

// demoCloud is the clouds.yaml entry a user would write for the simulator at url, read
// through imageAPI: password authentication with the simulator's default account,
// endpoints from the catalog (IMS, which has none there, at the simulator's root).
func demoCloud(url, imageAPI string) *cloud.Config {
	cfg := &cloud.Config{
		Name:     "demo",
		AuthType: cloud.AuthPassword,
		ImageAPI: imageAPI,
		AuthOptions: gophercloud.AuthOptions{
			IdentityEndpoint: url + "/v3",
			Username:         "demo",
			Password:         "demo-secret",
			DomainName:       "Default",
			Scope:            &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
		},
		Endpoint: gophercloud.EndpointOpts{Region: "RegionOne"},
	}
	if imageAPI == client.APIIMS {
		cfg.ImageEndpointOverride = url
	}
	return cfg
}
