from snacks.storefront_page import main

raise SystemExit(main())
