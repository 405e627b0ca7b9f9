from jamd.cli import main

raise SystemExit(main())
