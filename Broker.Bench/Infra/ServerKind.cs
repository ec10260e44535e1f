namespace Broker.Bench.Infra;

/// <summary>What a benchmark server process runs.</summary>
public enum ServerKind
{
    /// <summary>The broker itself (AddBroker/MapBroker), route <c>/ws/chat</c>.</summary>
    Broker,
    /// <summary>The near-limit reference: raw Kestrel WebSockets, no actors (<c>/ws/raw</c>).</summary>
    Raw,
    /// <summary>The peer users would pick: an ASP.NET Core SignalR hub with group sends (<c>/hub</c>).</summary>
    SignalR,
}

public static class ServerKinds
{
    public static string Name(this ServerKind kind) => kind switch
    {
        ServerKind.Broker => "broker",
        ServerKind.Raw => "raw-kestrel",
        ServerKind.SignalR => "signalr",
        _ => kind.ToString(),
    };

    public static ServerKind Parse(string name) => name switch
    {
        "broker" => ServerKind.Broker,
        "raw" or "raw-kestrel" => ServerKind.Raw,
        "signalr" => ServerKind.SignalR,
        _ => throw new ArgumentException($"unknown server kind '{name}' (broker, raw, signalr)"),
    };
}
