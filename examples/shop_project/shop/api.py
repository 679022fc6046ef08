from rest_access_policy import AccessViewSetMixin
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Coupon, Order, Product, Review
from .permissions import IsOrderCustomer
from .policies import ProductAccessPolicy, ReviewAccessPolicy


class CouponSerializer(serializers.ModelSerializer):
    class Meta:
        model = Coupon
        fields = ["code", "percent", "valid_until"]


class CouponViewSet(viewsets.ModelViewSet):
    queryset = Coupon.objects.all()
    serializer_class = CouponSerializer
    permission_classes = [IsAdminUser]


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["id", "total", "paid"]


class OrderViewSet(viewsets.ModelViewSet):
    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    permission_classes = [IsOrderCustomer]


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = ["id", "product", "rating", "text"]


class ReviewViewSet(AccessViewSetMixin, viewsets.ModelViewSet):
    queryset = Review.objects.all()
    serializer_class = ReviewSerializer
    access_policy = ReviewAccessPolicy


class ProductViewSet(viewsets.ModelViewSet):
    queryset = Product.objects.all()
    permission_classes = [ProductAccessPolicy]


# DJS906 (opt-in): the settings leave DEFAULT_PERMISSION_CLASSES at AllowAny,
# and this view writes with nothing guarding it: anyone may correct the stock.
class StockCorrectionView(APIView):
    def post(self, request):
        Product.objects.filter(pk=request.data["product"]).update(stock=request.data["stock"])
        return Response(status=202)
