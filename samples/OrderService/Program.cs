OrderService.OrderServiceApp.Build(args).Run();
