using System.Net;
using Broker.AspNetCore.Demo;

namespace Broker.Tests.Demo;

/// <summary><c>MapBrokerDemo()</c>: the chat page at <c>/</c> and its files at <c>/demo/*</c>, locked down by a CSP.</summary>
public sealed class DemoPageTests(DemoPageTests.DemoHostFixture fixture) : IClassFixture<DemoPageTests.DemoHostFixture>
{
    /// <summary>A host that maps the demo, as the standalone Broker.Host does.</summary>
    public sealed class DemoHostFixture : IAsyncLifetime
    {
        public BrokerTestHost Host { get; private set; } = null!;

        public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(endpoints: app => app.MapBrokerDemo());

        public async Task DisposeAsync() => await Host.DisposeAsync();
    }

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task The_page_is_served_at_the_root_with_a_content_security_policy()
    {
        using var response = await Host.Http.GetAsync("");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy);
        Assert.Contains("connect-src 'self'", policy);
        Assert.Contains("data-testid=\"state-badge\"", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("demo/demo.js", "text/javascript")]
    [InlineData("demo/demo.css", "text/css")]
    public async Task Its_script_and_style_are_served(string path, string mediaType)
    {
        using var response = await Host.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_page_imports_the_client_the_host_serves()
    {
        var script = await Host.Http.GetStringAsync("demo/demo.js");
        Assert.Contains("from '/broker/broker-client.js'", script);

        using var client = await Host.Http.GetAsync("broker/broker-client.js");
        Assert.Equal(HttpStatusCode.OK, client.StatusCode);
    }

    [Fact]
    public async Task Unknown_demo_files_are_404()
    {
        using var response = await Host.Http.GetAsync("demo/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
