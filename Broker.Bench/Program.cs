// Placeholder: the benchmark tool (issue #9) lands here.
Console.WriteLine("Broker.Bench: no scenarios yet");
