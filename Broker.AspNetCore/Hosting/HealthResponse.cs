using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.AspNetCore.Hosting;

/// <summary>
/// The body of <c>/health/ready</c>: the overall status and each check's status and description,
/// so an operator sees what is wrong (<c>{"status":"Degraded","checks":{"room-store":{"status":"Degraded","description":"…"}}}</c>).
/// The status code stays ASP.NET Core's: 200 for Healthy and Degraded, 503 for Unhealthy.
/// </summary>
public static class HealthResponse
{
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("status", report.Status.ToString());
        writer.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            writer.WriteStartObject(name);
            writer.WriteString("status", entry.Status.ToString());
            if (entry.Description is { } description) writer.WriteString("description", description);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }
}
