// The shared test toolkit (wire client, host builder, fake clock, tokens) is used by most files.
global using Broker.Tests.Infrastructure;
