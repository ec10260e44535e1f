using Broker.AspNetCore.Configuration;
using Broker.Actors.Handlers;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Broker.AspNetCore.Embedding;

/// <summary>One application-defined message type and the handler type serving it (see <see cref="BrokerMessageHandlerExtensions"/>).</summary>
/// <param name="Type">The frame <c>type</c>.</param>
/// <param name="HandlerType">The <see cref="IBrokerMessageHandler"/> resolved from DI (a singleton).</param>
/// <param name="Routes">Routes it is enabled on; empty means every route.</param>
public sealed record MessageHandlerRegistration(string Type, Type HandlerType, IReadOnlyList<string> Routes);

/// <summary>Registers the app's own client → server message types with the embedded broker.</summary>
public static class BrokerMessageHandlerExtensions
{
    /// <summary>
    /// Serves frames of <paramref name="type"/> with <typeparamref name="THandler"/> (a singleton
    /// from DI, so it may inject <see cref="IBrokerPublisher"/> or your own services), on
    /// <paramref name="routes"/> or, when none are given, on every route. Elsewhere the type stays
    /// unknown (<c>error bad_request</c>).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="type"/> is not 1 to 64 of <c>a-z 0-9 _ . : -</c> starting with a letter, is a
    /// PROTOCOL §3 type (built-in types cannot be overridden), or is already registered.
    /// </exception>
    public static IServiceCollection AddBrokerMessageHandler<THandler>(this IServiceCollection services, string type, params string[] routes)
        where THandler : class, IBrokerMessageHandler
    {
        if (FrameParser.CustomTypeError(type) is { } error) throw new ArgumentException(error, nameof(type));
        foreach (var route in routes)
            if (!FrameParser.IsValidRoom(route)) throw new ArgumentException($"'{route}' is not a route name", nameof(routes));
        if (services.Any(d => d.ImplementationInstance is MessageHandlerRegistration existing && existing.Type == type))
            throw new ArgumentException($"a handler for '{type}' is already registered", nameof(type));
        services.TryAddSingleton<THandler>();
        services.AddSingleton(new MessageHandlerRegistration(type, typeof(THandler), routes.ToArray()));
        return services;
    }

    /// <inheritdoc cref="AddBrokerMessageHandler{THandler}(IServiceCollection, string, string[])"/>
    public static WebApplicationBuilder AddBrokerMessageHandler<THandler>(this WebApplicationBuilder builder, string type, params string[] routes)
        where THandler : class, IBrokerMessageHandler
    {
        builder.Services.AddBrokerMessageHandler<THandler>(type, routes);
        return builder;
    }

    /// <summary>The node's handler table from the registrations; null when the app registered none. Unknown routes stop the start-up.</summary>
    internal static MessageHandlers? BuildMessageHandlers(IServiceProvider services, BrokerOptions options)
    {
        var registrations = services.GetServices<MessageHandlerRegistration>().ToList();
        if (registrations.Count == 0) return null;
        var handlers = new MessageHandlers(options.Limits.HandlerTimeout);
        foreach (var registration in registrations)
        {
            foreach (var route in registration.Routes)
                if (!options.Routes.ContainsKey(route))
                    throw new InvalidOperationException($"message type '{registration.Type}' is enabled on route '{route}', which is not in Broker:Routes");
            handlers.Add(registration.Type, (IBrokerMessageHandler)services.GetRequiredService(registration.HandlerType), [.. registration.Routes]);
        }
        return handlers;
    }
}
