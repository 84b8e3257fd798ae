package main

import (
	"github.com/gophercloud/gophercloud/v2"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
)

// demoCloud is the clouds.yaml entry a user would write for the simulator at url: password
// authentication with the simulator's default account, endpoint from the catalog.
func demoCloud(url string) *cloud.Config {
	return &cloud.Config{
		Name:     "demo",
		AuthType: cloud.AuthPassword,
		AuthOptions: gophercloud.AuthOptions{
			IdentityEndpoint: url + "/v3",
			Username:         "demo",
			Password:         "demo-secret",
			DomainName:       "Default",
			Scope:            &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
		},
		Endpoint: gophercloud.EndpointOpts{Region: "RegionOne"},
	}
}
