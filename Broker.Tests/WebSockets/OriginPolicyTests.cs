using Broker.AspNetCore.WebSockets;

namespace Broker.Tests.WebSockets;

/// <summary>The handshake Origin rule (PROTOCOL §2): absent is fine; present must be allowed.</summary>
public sealed class OriginPolicyTests
{
    private static readonly string[] None = [];
    private const string Host = "broker.example.com:5080";

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Request_without_an_origin_is_allowed(string? origin)
    {
        Assert.True(OriginPolicy.IsAllowed(origin, None, Host));
        Assert.True(OriginPolicy.IsAllowed(origin, ["https://app.example.com"], Host));
    }

    [Theory]
    [InlineData("https://app.example.com")]
    [InlineData("HTTPS://APP.EXAMPLE.COM")]
    [InlineData("http://localhost:3000")]
    public void Origin_in_the_route_list_is_allowed(string origin) =>
        Assert.True(OriginPolicy.IsAllowed(origin, ["https://app.example.com", "http://localhost:3000/"], Host));

    [Theory]
    [InlineData("https://evil.example.com")]
    [InlineData("http://app.example.com")] // scheme matters
    [InlineData("https://app.example.com:8443")] // port matters
    [InlineData("https://app.example.com.evil.net")]
    [InlineData("null")]
    [InlineData("https://broker.example.com:5080")] // a list replaces the same-host default
    public void Origin_not_in_the_route_list_is_refused(string origin) =>
        Assert.False(OriginPolicy.IsAllowed(origin, ["https://app.example.com"], Host));

    [Theory]
    [InlineData("https://anything.example.org")]
    [InlineData("null")]
    public void Star_allows_any_origin(string origin) =>
        Assert.True(OriginPolicy.IsAllowed(origin, ["*"], Host));

    [Theory]
    [InlineData("http://broker.example.com:5080")]
    [InlineData("https://BROKER.example.com:5080")]
    public void Empty_list_allows_the_brokers_own_host(string origin) =>
        Assert.True(OriginPolicy.IsAllowed(origin, None, Host));

    [Theory]
    [InlineData("http://broker.example.com")] // another port
    [InlineData("http://broker.example.com:5081")]
    [InlineData("http://other.example.com:5080")]
    [InlineData("null")]
    [InlineData("not a url")]
    [InlineData("broker.example.com:5080")]
    public void Empty_list_refuses_other_hosts(string origin) =>
        Assert.False(OriginPolicy.IsAllowed(origin, None, Host));

    [Fact]
    public void Empty_list_compares_default_ports_as_written_by_the_browser() =>
        Assert.True(OriginPolicy.IsAllowed("https://broker.example.com", None, "broker.example.com"));
}
