from taskseed.cli import main

raise SystemExit(main())
