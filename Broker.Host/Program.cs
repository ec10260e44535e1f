using Broker.AspNetCore.Demo;
using Broker.AspNetCore.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddBroker(builder.Configuration, builder.Environment);
builder.UseBrokerStandaloneDefaults(); // 127.0.0.1:5080, and durable rooms in data/broker.db when alone

var app = builder.Build();
app.MapBroker();
app.MapBrokerDemo(); // the chat demo at /; not part of MapBroker, so embedding apps opt in
app.Run();

/// <summary>Entry point; public so integration tests can reference the assembly.</summary>
public partial class Program;
