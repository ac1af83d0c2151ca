"""How the hub speaks: HTTPS routes and their replies (``http``), the error envelope (``errors``), and the AMQP
listener for cloud-to-device messages (``amqp``)."""
