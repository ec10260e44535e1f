using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// An <see cref="ILoggerProvider"/> that keeps every formatted log line (category, level, message,
/// structured values and exception text), so tests can assert on what the host would have logged.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>A snapshot of every line captured so far.</summary>
    public IReadOnlyList<string> Lines => _lines.ToArray();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _lines);

    public void Dispose() { }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{category} [{logLevel}] {formatter(state, exception)}";
            // The raw structured values too: a sink could write them even when the template does not.
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
                line += " | " + string.Join(", ", values.Select(kv => $"{kv.Key}={kv.Value}"));
            if (exception is not null) line += Environment.NewLine + exception;
            lines.Enqueue(line);
        }
    }
}
