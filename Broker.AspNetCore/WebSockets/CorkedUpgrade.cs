using Microsoft.AspNetCore.Http.Features;

namespace Broker.AspNetCore.WebSockets;

/// <summary>
/// Gets a <see cref="CorkableStream"/> under the broker's WebSockets without taking over the
/// handshake or permessage-deflate: ASP.NET Core's WebSocket middleware captures the request's
/// <see cref="IHttpUpgradeFeature"/> when the request passes it and calls its <c>UpgradeAsync</c>
/// on accept, so a middleware just before <c>UseWebSockets()</c> swaps in a feature whose upgrade
/// returns the corkable stream (and records it for <see cref="WebSocketEndpoint"/>). HTTP/2
/// extended CONNECT sockets, and apps that called <c>UseWebSockets()</c> before <c>MapBroker()</c>,
/// are not wrapped: their sockets send frame by frame.
/// </summary>
public static class CorkedUpgrade
{
    /// <summary>Adds the middleware; call it right before <c>UseWebSockets()</c>.</summary>
    public static void UseCorkedUpgrades(this IApplicationBuilder app, int capacity) =>
        app.Use((context, next) =>
        {
            var upgrade = context.Features.Get<IHttpUpgradeFeature>();
            if (upgrade is { IsUpgradableRequest: true } && context.Request.Path.StartsWithSegments("/ws"))
                context.Features.Set<IHttpUpgradeFeature>(new Feature(context, upgrade, capacity));
            return next(context);
        });

    /// <summary>The corkable stream the request's upgrade returned, or null (not upgraded through the wrapper).</summary>
    public static CorkableStream? StreamOf(HttpContext context) => context.Features.Get<CorkableStream>();

    private sealed class Feature(HttpContext context, IHttpUpgradeFeature inner, int capacity) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync()
        {
            var stream = new CorkableStream(await inner.UpgradeAsync(), capacity);
            context.Features.Set(stream);
            return stream;
        }
    }
}
