from shoprenter_webhooks.program import main

main()
