using Broker.Host.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseBrokerDefaultUrl();
builder.Services.AddBroker(builder.Configuration, builder.Environment);

var app = builder.Build();
app.MapBroker();
app.Run();

/// <summary>Entry point; public so integration tests can reference the assembly.</summary>
public partial class Program;
