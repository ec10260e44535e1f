using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// An <see cref="ILoggerProvider"/> that keeps every log entry (category, level, event id, message,
/// structured values and exception), so tests can assert on what the host would have logged.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    /// <summary>Every entry captured so far, in order.</summary>
    public IReadOnlyCollection<LogEntry> Entries => _entries;

    /// <summary>A snapshot of every entry as one formatted line.</summary>
    public IReadOnlyList<string> Lines => _entries.Select(e => e.ToString()).ToArray();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _entries);

    public void Dispose() { }

    private sealed class CapturingLogger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // The raw structured values too: a sink could write them even when the template does not.
            var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception),
                values.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString()), exception?.ToString()));
        }
    }
}

/// <summary>One captured log entry.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, string?> Values, string? Exception)
{
    /// <summary><c>category [level] message | key=value, ...</c>, then the exception on its own lines.</summary>
    public override string ToString() =>
        $"{Category} [{Level}] {Message} | {string.Join(", ", Values.Select(kv => $"{kv.Key}={kv.Value}"))}"
        + (Exception is null ? "" : System.Environment.NewLine + Exception);
}
