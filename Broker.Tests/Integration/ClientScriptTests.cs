using System.Net;

namespace Broker.Tests.Integration;

/// <summary>
/// <c>MapBroker()</c> serves the JS client at <c>/broker/*</c> from embedded resources (so it works
/// with the test's bin folder as content root), with an ETag; the demo page is not part of it.
/// </summary>
[Collection(SharedHostCollection.Name)]
public sealed class ClientScriptTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Theory]
    [InlineData("broker/broker-client.js", "text/javascript")]
    [InlineData("broker/react.js", "text/javascript")]
    [InlineData("broker/emitter.js", "text/javascript")] // a module broker-client.js imports relatively
    [InlineData("broker/broker-client.d.ts", "text/plain")]
    public async Task The_client_files_are_served_with_their_content_type_and_an_etag(string path, string mediaType)
    {
        using var response = await Host.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        Assert.NotNull(response.Headers.ETag);
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.NotEmpty(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_request_with_the_current_etag_gets_304_without_a_body()
    {
        using var first = await Host.Http.GetAsync("broker/broker-client.js");
        using var request = new HttpRequestMessage(HttpMethod.Get, "broker/broker-client.js");
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);

        using var second = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("broker/")]
    [InlineData("broker/nope.js")]
    [InlineData("broker/broker-client.js.map")]
    [InlineData("broker/BROKER-CLIENT.JS")] // names are matched exactly
    [InlineData("broker/sub/broker-client.js")]
    public async Task Anything_else_under_broker_is_404(string path)
    {
        using var response = await Host.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task The_demo_page_is_not_mapped_by_MapBroker()
    {
        using var response = await Host.Http.GetAsync("");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
