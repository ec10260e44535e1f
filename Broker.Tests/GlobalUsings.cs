// The shared test toolkit (wire client, host builder, fake clock, tokens) is used by most files,
// and so are xunit, Akka's TestKit, Broker.TestKit and System.Text.Json: one place, not a copy per file.
global using Akka.Actor;
global using Akka.TestKit;
global using Broker.Tests.Infrastructure;
global using Broker.TestKit;
global using System.Text.Json;
global using System.Text.Json.Nodes;
global using Xunit;
